package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Who may use a served device: the peer's credentials against the {@link AccessPolicy}, fds, the socket path. */
class AccessControlTest extends ServerTestBase {
    private static final int NOBODY = 65534;

    @Test
    void theDefaultPolicyAllowsTheServersOwnUserAndRootOnly() {
        AccessPolicy policy = ServerOptions.defaults().accessPolicy();
        int me = AccessPolicy.currentUid();
        assertThat(policy.permits(new PeerCredentials(1, me, 1234))).isTrue();
        assertThat(policy.permits(new PeerCredentials(1, 0, 0))).isTrue();
        assertThat(policy.permits(new PeerCredentials(1, me == NOBODY ? 4242 : NOBODY, NOBODY))).isFalse();
        assertThat(AccessPolicy.allowing(Set.of(), Set.of(100)).permits(new PeerCredentials(1, 7, 100))).isTrue();
        assertThat(AccessPolicy.anyone().permits(new PeerCredentials(1, 7, 7))).isTrue();
    }

    @Test
    void addedUsersAndGroupsAreServedBesideTheOwnerAndRoot() {
        int me = AccessPolicy.currentUid();
        AccessPolicy policy = AccessPolicy.ownerRootAnd(Set.of(4242), Set.of(64055));
        assertThat(policy.permits(new PeerCredentials(1, me, 1234))).as("this process's user").isTrue();
        assertThat(policy.permits(new PeerCredentials(1, 0, 0))).as("root").isTrue();
        assertThat(policy.permits(new PeerCredentials(1, 4242, 4242))).as("an added user").isTrue();
        assertThat(policy.permits(new PeerCredentials(1, 4343, 64055))).as("primary group").isTrue();
        assertThat(policy.permits(new PeerCredentials(1, 4343, 4343, Set.of(100, 64055)))).as("supplementary group").isTrue();
        assertThat(policy.permits(new PeerCredentials(1, me == 4343 ? 4444 : 4343, 4343, Set.of(100)))).as("neither").isFalse();
        assertThat(policy.toString()).contains("4242", "64055", "uids [0, ");
    }

    @Test
    void aRefusedPeerIsDisconnectedBeforeAnyMessageIsReadAndTheNextIsServed() throws Exception {
        AtomicBoolean allow = new AtomicBoolean(false);
        start(ServerOptions.defaults().withAccessPolicy(peer -> allow.get()));
        TestPeer refused = connect();
        try (EventFd e = EventFd.create()) {
            // Even a message with an fd: the server closes the connection unread, fds and all.
            refused.send(Command.VERSION, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON));
            refused.send(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1), e.fd());
        } catch (LinuxException alreadyClosed) {
            // EPIPE: the server was quicker
        }
        assertThat(refused.serverHungUp()).isTrue();
        assertThat(server.refusedConnections()).isEqualTo(1);
        assertThat(device.opens).as("the device never saw the refused peer").isEmpty();
        assertThat(server.stats().count(Command.VERSION)).isZero();

        allow.set(true);
        assertThat(client().read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2)).containsExactly(0x34, 0x12);
        assertThat(server.refusedConnections()).isEqualTo(1);
    }

    @Test
    void anotherUserIsRefusedEvenWhenTheSocketModeLetsThemIn() throws Exception {
        assumeTrue(AccessPolicy.currentUid() == 0, "needs root to run a client as another user");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")) && Files.isExecutable(Path.of("/usr/bin/python3")),
                "needs setpriv and python3");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        start(ServerOptions.defaults().withSocketMode(0666));
        // nobody connects, sends VERSION and reports what comes back.
        byte[] version = TestPeer.message(1, Command.VERSION.code(), 0, 0, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON));
        String script = "import socket,sys\n"
                + "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)\n"
                + "try:\n s.sendall(bytes.fromhex(sys.argv[2])); d=s.recv(64)\n"
                + "except (BrokenPipeError, ConnectionResetError): d=b''\n"
                + "print('EOF' if not d else 'REPLY %d' % len(d))\n";
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "/usr/bin/python3", "-c", script, socketPath().toString(), HexFormat.of().formatHex(version))
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(out).isEqualTo("EOF");
        assertThat(server.refusedConnections()).isEqualTo(1);
        // root (and the owner) still are served
        assertThat(client().read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aSymlinkToAStaleSocketIsNeitherFollowedNorReplaced() throws Exception {
        Path elsewhere = dir.resolve("elsewhere");
        Files.createDirectory(elsewhere);
        Path stale = elsewhere.resolve("stale.sock");
        UnixServerSocket dead = UnixServerSocket.bind(stale, 0600, 1);
        Path moved = elsewhere.resolve("moved.sock");
        Files.move(stale, moved);
        dead.close();
        Files.move(moved, stale); // a socket file nobody listens on: what bindReplacingStale would replace
        Files.createSymbolicLink(socketPath(), stale);
        TestDevice d = new TestDevice();
        try {
            assertThatThrownBy(() -> VfioUserServer.bind(socketPath(), d, ServerOptions.defaults()))
                    .isInstanceOf(IOException.class).hasMessageContaining("symbolic link");
        } finally {
            d.dispose();
        }
        assertThat(Files.isSymbolicLink(socketPath())).isTrue();
        assertThat(Files.readSymbolicLink(socketPath())).isEqualTo(stale);
        assertThat(Files.exists(stale, java.nio.file.LinkOption.NOFOLLOW_LINKS)).as("the link's target is untouched").isTrue();
    }

    @Test
    void unusedFdsAreClosedWhateverTheCommand() throws Exception {
        start();
        TestPeer c = client();
        // an fd on a command that takes none, and more fds than SET_IRQS's count: all refused, all closed
        // (the fd-leak check of every test proves the closing).
        try (EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            assertThat(c.callError(Command.DEVICE_RESET, new byte[0], List.of(a.fd()))).isEqualTo(Errno.EINVAL);
            assertThat(c.callError(Command.DEVICE_SET_IRQS,
                    TestPeer.bytes(IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1)), List.of(a.fd(), b.fd())))
                    .isEqualTo(Errno.EINVAL);
        }
        assertThat(c.read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2)).containsExactly(0x34, 0x12);
    }
}
