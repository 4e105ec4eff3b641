package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.jvfio.cli.Cli;
import io.jvfio.cli.Main;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.server.AccessPolicy;
import io.jvfio.testing.Await;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code serve --allow-user/--allow-group}: a real {@code jvfio serve} process, and clients run as
 * other users by {@code setpriv} (so as root only): the allowed ones — by user, by primary group,
 * by supplementary group — get their VERSION answered, another user is disconnected unread and
 * named in the log; unknown names stop serve before it listens.
 */
class ServeAllowUserTest {
    /** Users and groups no entry names: setpriv takes numbers as they are. */
    private static final int STRANGER = 4242, GROUP_MEMBER = 4243, PRIMARY_MEMBER = 4244;

    /**
     * Connects to argv[1], sends VERSION and prints "REPLY error N" for the answer, or "EOF" when the
     * server hangs up instead. Python: it runs as any user, where the test's class path may not be readable.
     */
    private static final String CLIENT = """
            import socket, struct, sys
            caps = b'{"capabilities":{"max_msg_fds":16,"max_data_xfer_size":1048576}}\\0'
            s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
            reply = b''
            try:
                s.sendall(struct.pack('<HHIIIHH', 1, 1, 20 + len(caps), 0, 0, 0, 0) + caps)
                while len(reply) < 16:
                    more = s.recv(16 - len(reply))
                    if not more: break
                    reply += more
            except (BrokenPipeError, ConnectionResetError):
                pass
            print('EOF' if len(reply) < 16 else 'REPLY error %d' % struct.unpack('<HHIII', reply)[4])
            """;

    @TempDir
    Path dir;

    /** The numeric field {@code index} of {@code name}'s line in /etc/passwd or /etc/group. */
    private static int id(String file, String name, int index) throws Exception {
        return Files.readAllLines(Path.of(file)).stream().map(l -> l.split(":", -1)).filter(f -> f[0].equals(name))
                .mapToInt(f -> Integer.parseInt(f[index])).findFirst().orElseThrow(() -> new AssertionError("no " + name + " in " + file));
    }

    /** What {@link #CLIENT} says when run with uid {@code uid}, gid {@code gid} and the supplementary groups {@code groups}. */
    private String connectAs(Path socket, int uid, int gid, String groups) throws Exception {
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + gid,
                groups.isEmpty() ? "--clear-groups" : "--groups=" + groups, "/usr/bin/python3", "-c", CLIENT, socket.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    @Test
    void allowedUsersAndGroupsAreServedAndAnotherUserIsRefusedByName() throws Exception {
        assumeThat(AccessPolicy.currentUid()).as("needs root to run clients as other users").isZero();
        assumeThat(Files.isExecutable(Path.of("/usr/bin/setpriv")) && Files.isExecutable(Path.of("/usr/bin/python3")))
                .as("needs setpriv and /usr/bin/python3").isTrue();
        int nobody = id("/etc/passwd", "nobody", 2), nobodyGroup = id("/etc/passwd", "nobody", 3);
        int daemonGroup = id("/etc/group", "daemon", 2);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // others reach the socket
        Path socket = dir.resolve("gpio.sock");
        List<String> command = new ArrayList<>(javaRunning(Main.class));
        command.addAll(List.of("serve", "gpio", "--socket", socket.toString(), "--socket-mode", "666",
                "--allow-user", "nobody", "--allow-group", "daemon"));
        Process server = new ProcessBuilder(command).redirectOutput(dir.resolve("out").toFile()).redirectError(dir.resolve("err").toFile()).start();
        try {
            if (!Await.until(Duration.ofSeconds(120), () -> Files.readString(dir.resolve("out")).contains("clients allowed"))) {
                throw new AssertionError("the server did not start: " + Files.readString(dir.resolve("err")));
            }
            assertThat(Files.readString(dir.resolve("out"))).contains("clients allowed: uid 0 (this process), root, user nobody (uid "
                    + nobody + "), group daemon (gid " + daemonGroup + ")");

            assertThat(connectAs(socket, nobody, nobodyGroup, "")).as("--allow-user nobody").isEqualTo("REPLY error 0");
            assertThat(connectAs(socket, PRIMARY_MEMBER, daemonGroup, "")).as("daemon as primary group").isEqualTo("REPLY error 0");
            assertThat(connectAs(socket, GROUP_MEMBER, GROUP_MEMBER, String.valueOf(daemonGroup)))
                    .as("daemon as a supplementary group (SO_PEERGROUPS)").isEqualTo("REPLY error 0");
            assertThat(connectAs(socket, STRANGER, STRANGER, "100")).as("another user").isEqualTo("EOF");

            String err = Files.readString(dir.resolve("err"));
            assertThat(err).containsPattern("refused client pid \\d+ uid " + STRANGER + " gid " + STRANGER + " groups \\[100\\]: "
                    + "not allowed by the access policy \\(uids \\[0, " + nobody + "\\], gids \\[" + daemonGroup + "\\]\\)");
            assertThat(err).doesNotContain("uid " + GROUP_MEMBER + " ", "uid " + PRIMARY_MEMBER + " ", "uid " + nobody + " gid");
        } finally {
            server.destroy();
            assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(server.exitValue()).as(Files.readString(dir.resolve("err"))).isZero();
    }

    @Test
    void anUnknownUserOrGroupIsAnErrorBeforeServing() {
        Path socket = dir.resolve("gpio.sock");
        Cli.Run user = Cli.run("serve", "gpio", "--socket", socket.toString(), "--allow-user", "no-such-user-jvfio");
        assertThat(user.exit()).isEqualTo(2);
        assertThat(user.err()).contains("Error: --allow-user: no user 'no-such-user-jvfio' in the system's user database");
        Cli.Run group = Cli.run("serve", "gpio", "--socket", socket.toString(), "--allow-user", "root", "--allow-group", "no-such-group-jvfio");
        assertThat(group.exit()).isEqualTo(2);
        assertThat(group.err()).contains("Error: --allow-group: no group 'no-such-group-jvfio' in the system's group database");
        assertThat(Files.exists(socket)).as("nothing was served").isFalse();
    }

    @Test
    void numbersNeedNoEntryAndNamesBecomeTheirIds() {
        ServeCommand.Gpio gpio = new ServeCommand.Gpio();
        CommandLine commandLine = new CommandLine(gpio);
        commandLine.parseArgs("--socket", "s", "--allow-user", "4242", "--allow-user", "root", "--allow-group", "4343");
        AccessOptions.Allowed allowed = gpio.access.resolve(commandLine);
        assertThat(allowed.description()).endsWith("root, uid 4242, user root (uid 0), gid 4343");
        assertThat(allowed.policy().permits(new PeerCredentials(1, 4242, 4242))).isTrue();
        assertThat(allowed.policy().permits(new PeerCredentials(1, 4545, 4545, Set.of(4343)))).isTrue();
        assertThat(allowed.policy().permits(new PeerCredentials(1, AccessPolicy.currentUid() == 4545 ? 4646 : 4545, 4545))).isFalse();
    }

    @Test
    void helpSaysWhoMayConnectAndThatFaultControlStaysOwnUserOnly() {
        String usage = new CommandLine(new ServeCommand.Gpio()).getUsageMessage().replaceAll("\\s+", " "); // unwrapped
        assertThat(usage).contains("--allow-user=USER|UID", "--allow-group=GROUP|GID", "primary or supplementary group",
                "Only serve's own user may use it, whatever --allow-user/--allow-group say.");
    }

    /** {@code java … MAIN}: this JVM's java and class path, with what the tool needs enabled. */
    static List<String> javaRunning(Class<?> main) {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        return List.of(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-cp", System.getProperty("java.class.path"), main.getName());
    }
}
