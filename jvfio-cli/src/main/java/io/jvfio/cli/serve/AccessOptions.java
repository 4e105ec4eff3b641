package io.jvfio.cli.serve;

import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UserDatabase;
import io.jvfio.server.AccessPolicy;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code serve --allow-user/--allow-group}: who may connect besides the user serve runs as and
 * root. Names are resolved through the system's name service ({@link UserDatabase}: getpwnam_r,
 * getgrnam_r), so they mean what they mean to {@code id} and {@code chown}.
 */
final class AccessOptions {
    /** The largest uid or gid: (uid_t) -1 means "none" to the kernel. */
    private static final long MAX_ID = 0xffff_fffeL;

    @Option(names = "--allow-user", paramLabel = "USER|UID",
            description = {"Also serve clients running as USER (a name or a number; repeatable), e.g. the user QEMU runs as.",
                    "Clients of serve's own user and root are always served; others are disconnected unread and logged."})
    List<String> users = new ArrayList<>();

    @Option(names = "--allow-group", paramLabel = "GROUP|GID",
            description = {"Also serve clients whose primary or supplementary group is GROUP (a name or a number; repeatable).",
                    "The socket file must let them in too: --socket-mode, or SocketGroup=/SocketMode= of a .socket unit."})
    List<String> groups = new ArrayList<>();

    /** The policy and how to say it: "uid 998 (this process), root, user libvirt-qemu (uid 64055)". */
    record Allowed(AccessPolicy policy, String description) {}

    boolean any() {
        return !users.isEmpty() || !groups.isEmpty();
    }

    /** The policy the options give; an unknown name is a usage error (exit 2). */
    Allowed resolve(CommandLine commandLine) {
        Set<Integer> uids = new LinkedHashSet<>(), gids = new LinkedHashSet<>();
        List<String> said = new ArrayList<>(List.of("uid " + AccessPolicy.currentUid() + " (this process)", "root"));
        for (String user : users) {
            Optional<Integer> given = number(user);
            int uid = given.orElseGet(() -> lookUp(commandLine, "--allow-user", user, false));
            uids.add(uid);
            said.add(given.isPresent() ? "uid " + uid : "user " + user + " (uid " + uid + ")");
        }
        for (String group : groups) {
            Optional<Integer> given = number(group);
            int gid = given.orElseGet(() -> lookUp(commandLine, "--allow-group", group, true));
            gids.add(gid);
            said.add(given.isPresent() ? "gid " + gid : "group " + group + " (gid " + gid + ")");
        }
        return new Allowed(AccessPolicy.ownerRootAnd(uids, gids), String.join(", ", said));
    }

    /** {@code text} as a uid or gid when it is all digits (as with chown, a number needs no entry of its own). */
    private static Optional<Integer> number(String text) {
        if (text.isEmpty() || text.length() > 10 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return Optional.empty();
        }
        long id = Long.parseLong(text);
        return id > MAX_ID ? Optional.empty() : Optional.of((int) id);
    }

    private static int lookUp(CommandLine commandLine, String option, String name, boolean group) {
        try {
            Optional<Integer> id = group
                    ? UserDatabase.group(name).map(UserDatabase.Group::gid)
                    : UserDatabase.user(name).map(UserDatabase.User::uid);
            return id.orElseThrow(() -> new ParameterException(commandLine, "Error: " + option + ": no " + (group ? "group" : "user")
                    + " '" + name + "' in the system's " + (group ? "group" : "user") + " database"));
        } catch (LinuxException e) {
            throw new ParameterException(commandLine, "Error: " + option + ": cannot look up '" + name + "': " + e.getMessage());
        }
    }
}
