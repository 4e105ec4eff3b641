package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.testing.Await;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Reconnects, socket-file policy, and serving on an inherited fd. */
class LifecycleTest extends ServerTestBase {

    @Test
    void aNewClientFindsTheDeviceStateButNoneOfTheOldClientsResources() throws Exception {
        start();
        int baseline = Fd.openFdCountOfProcess();
        TestPeer first = client();
        first.write(0, 0x100, new byte[] {0x5a, 0x5b});
        try (EventFd e = EventFd.create(); Fd mem = Memfd.create("ram", 0x1000)) {
            first.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1), e.fd()).close();
            first.call(Command.DMA_MAP, DmaMap.of(3, 0, 0x100000, 0x1000), mem).close();
        }
        assertThat(device.interrupts().isWired(Vfio.PCI_MSIX_IRQ_INDEX, 0)).isTrue();
        first.close();

        TestPeer second = client();
        assertThat(device.interrupts().isWired(Vfio.PCI_MSIX_IRQ_INDEX, 0)).as("eventfds dropped").isFalse();
        assertThat(device.dmaSpace().windows()).as("windows dropped").isEmpty();
        assertThat(second.read(0, 0x100, 2)).as("device state kept").containsExactly(0x5a, 0x5b);
        assertThat(device.opens).hasSize(2);
        second.close();
        // Both sessions are gone: only the listener is left open.
        TestPeer probe = client();
        probe.read(7, 0, 2);
        probe.close();
        Await.until(Duration.ofSeconds(5), () -> Fd.openFdCountOfProcess() == baseline);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    @Test
    void theSocketIsOwnerOnlyByDefault() throws Exception {
        start();
        assertThat(Files.getPosixFilePermissions(socketPath()))
                .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    }

    @Test
    void aStaleSocketIsReplaced() throws Exception {
        UnixServerSocket.bind(socketPath(), 0600, 1).close(); // listener gone, the file stays
        if (!Files.exists(socketPath())) {
            // This close unlinks: make a stale one by hand from a bound-but-closed fd instead.
            UnixServerSocket dead = UnixServerSocket.bind(socketPath(), 0600, 1);
            Path moved = dir.resolve("moved.sock");
            Files.move(socketPath(), moved);
            dead.close();
            Files.move(moved, socketPath());
        }
        assertThat(Files.exists(socketPath())).isTrue();
        start();
        assertThat(client().read(7, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aLiveServersSocketIsRefused() throws Exception {
        start();
        TestDevice other = new TestDevice();
        try {
            assertThatThrownBy(() -> VfioUserServer.bind(socketPath(), other, ServerOptions.defaults()))
                    .isInstanceOf(IOException.class).hasMessageContaining("live server");
        } finally {
            other.dispose();
        }
        assertThat(client().read(7, 0, 2)).as("the live server is untouched").containsExactly(0x34, 0x12);
    }

    @Test
    void aSymlinkIsRefusedAndItsTargetUntouched() throws Exception {
        Path target = dir.resolve("target.txt");
        Files.writeString(target, "keep me");
        Files.createSymbolicLink(socketPath(), target);
        TestDevice d = new TestDevice();
        try {
            assertThatThrownBy(() -> VfioUserServer.bind(socketPath(), d, ServerOptions.defaults()))
                    .isInstanceOf(IOException.class).hasMessageContaining("symbolic link");
        } finally {
            d.dispose();
        }
        assertThat(Files.isSymbolicLink(socketPath())).isTrue();
        assertThat(Files.readString(target)).isEqualTo("keep me");
    }

    @Test
    void aRegularFileIsRefused() throws Exception {
        Files.writeString(socketPath(), "data");
        TestDevice d = new TestDevice();
        try {
            assertThatThrownBy(() -> VfioUserServer.bind(socketPath(), d, ServerOptions.defaults()))
                    .isInstanceOf(IOException.class).hasMessageContaining("not a socket");
        } finally {
            d.dispose();
        }
        assertThat(Files.readString(socketPath())).isEqualTo("data");
    }

    @Test
    void closeRemovesTheSocketFile() throws Exception {
        start();
        server.close();
        assertThat(Files.exists(socketPath())).isFalse();
    }

    @Test
    void adoptsAListeningSocket() throws Exception {
        device = new TestDevice();
        Path path = dir.resolve("inherited.sock");
        UnixServerSocket listening = UnixServerSocket.bind(path, 0600, 1);
        server = VfioUserServer.adopt(listening.fd(), device, ServerOptions.defaults());
        server.start();
        try (TestPeer c = TestPeer.connect(path)) {
            c.negotiate();
            assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
        }
        try (TestPeer c = TestPeer.connect(path)) {
            assertThat(c.negotiate().read(7, 0, 2)).as("and the next client").containsExactly(0x34, 0x12);
        }
        server.close();
        Files.deleteIfExists(path);
    }

    @Test
    void adoptsAConnectedSocket() throws Exception {
        device = new TestDevice();
        UnixSocket[] pair = UnixSocket.pair();
        server = VfioUserServer.adopt(pair[1].fd(), device, ServerOptions.defaults());
        server.start();
        try (TestPeer c = new TestPeer(pair[0])) {
            c.negotiate();
            assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
        }
        server.close();
    }

    @Test
    void adoptRefusesAnFdThatIsNoSocket() throws Exception {
        TestDevice d = new TestDevice();
        try {
            Fd mem = Memfd.create("not-a-socket", 16);
            assertThatThrownBy(() -> VfioUserServer.adopt(mem, d, ServerOptions.defaults())).isInstanceOf(LinuxException.class);
            assertThat(mem.isOpen()).isFalse();
        } finally {
            d.dispose();
        }
    }

}
