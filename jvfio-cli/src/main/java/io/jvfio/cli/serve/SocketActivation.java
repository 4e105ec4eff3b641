package io.jvfio.cli.serve;

import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * systemd socket activation (the protocol of sd_listen_fds(3)): when LISTEN_PID is this process,
 * LISTEN_FDS sockets start at fd 3, named by LISTEN_FDNAMES. A device is served on one socket, so
 * exactly one is accepted: the listening socket of a {@code .socket} unit, or, with
 * {@code Accept=yes}, one connection.
 */
final class SocketActivation {
    static final String LISTEN_PID = "LISTEN_PID", LISTEN_FDS = "LISTEN_FDS", LISTEN_FDNAMES = "LISTEN_FDNAMES";
    /** SD_LISTEN_FDS_START: the first fd passed. */
    static final int FIRST_FD = 3;

    private SocketActivation() {}

    /** The socket passed to this process, and its name from LISTEN_FDNAMES if there is one (systemd's default: the socket unit's name). */
    record Passed(int fd, Optional<String> name) {}

    /**
     * The socket {@code environment} passes to process {@code pid}: empty when the variables are
     * absent or meant for another process (LISTEN_PID differs, as in a child that inherited them).
     *
     * @throws IllegalArgumentException when they are malformed, or pass more than one socket
     */
    static Optional<Passed> from(Map<String, String> environment, long pid) {
        String forPid = environment.get(LISTEN_PID), count = environment.get(LISTEN_FDS);
        if (forPid == null || count == null || !forPid.equals(Long.toString(pid))) {
            return Optional.empty();
        }
        int fds;
        try {
            fds = Integer.parseInt(count);
        } catch (NumberFormatException e) {
            fds = -1;
        }
        if (fds < 0) {
            throw new IllegalArgumentException("socket activation: LISTEN_FDS=" + count + " is not a count of sockets");
        }
        if (fds > 1) {
            throw new IllegalArgumentException("socket activation passed " + fds + " sockets (LISTEN_FDNAMES="
                    + environment.getOrDefault(LISTEN_FDNAMES, "") + "); a device is served on one: give its .socket unit a single"
                    + " ListenStream= and no other socket unit for this service");
        }
        Optional<String> name = Optional.ofNullable(environment.get(LISTEN_FDNAMES)).map(n -> n.split(":", -1)[0]).filter(n -> !n.isEmpty());
        return fds == 0 ? Optional.empty() : Optional.of(new Passed(FIRST_FD, name));
    }

    /** The socket passed to this process, if any; the variables are taken out of the environment its children would inherit. */
    static Optional<Passed> fromEnvironment() throws LinuxException {
        Map<String, String> environment = System.getenv();
        try {
            return from(environment, ProcessHandle.current().pid());
        } finally {
            for (String name : List.of(LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES)) {
                if (environment.containsKey(name)) {
                    Linux.unsetenv(name);
                }
            }
        }
    }
}
