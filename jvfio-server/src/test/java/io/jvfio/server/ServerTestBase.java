package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import io.jvfio.testing.OpenFds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs a {@link VfioUserServer} with a {@link TestDevice} per test and checks that the process has
 * exactly as many open fds after the test (server closed, clients gone) as before it.
 */
abstract class ServerTestBase {
    static {
        warmUp();
    }

    @TempDir
    Path dir;
    TestDevice device;
    VfioUserServer server;
    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private OpenFds fdsBefore;

    @BeforeEach
    final void countFds() {
        fdsBefore = OpenFds.snapshot();
    }

    static ServerOptions options(Duration dmaReplyTimeout) {
        ServerOptions d = ServerOptions.defaults();
        return new ServerOptions(d.socketMode(), d.maxDataXferSize(), d.maxMsgFds(), d.maxDmaWindows(), dmaReplyTimeout,
                Optional.empty());
    }

    Path socketPath() {
        return dir.resolve("dev.sock");
    }

    /** Starts a server for a new {@link TestDevice} with default options. */
    VfioUserServer start() throws IOException {
        return start(ServerOptions.defaults());
    }

    VfioUserServer start(ServerOptions options) throws IOException {
        device = new TestDevice();
        server = VfioUserServer.bind(socketPath(), device, options);
        server.start();
        return server;
    }

    TestPeer connect() throws IOException {
        TestPeer peer = TestPeer.connect(socketPath());
        cleanup.add(peer);
        return peer;
    }

    /** A connected client that completed VERSION with QEMU's capabilities. */
    TestPeer client() throws IOException {
        return connect().negotiate();
    }

    <T extends AutoCloseable> T closeLater(T resource) {
        cleanup.add(resource);
        return resource;
    }

    @AfterEach
    final void closeAllAndCheckFds() throws Exception {
        for (AutoCloseable c : cleanup.reversed()) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
        if (device != null) {
            device.dispose();
        }
        // Bounded wait: fds closed by other threads (a device thread's last use) may lag the close.
        fdsBefore.assertNoneLeaked(Duration.ofSeconds(5));
    }

    /** A whole session touching every path once, so lazily opened JDK/library files are open before counting. */
    private static void warmUp() {
        try {
            Path d = Files.createTempDirectory("jvfio-warmup");
            Path sock = d.resolve("s");
            TestDevice dev = new TestDevice();
            try (VfioUserServer s = VfioUserServer.bind(sock, dev, ServerOptions.defaults())) {
                s.start();
                try (TestPeer p = TestPeer.connect(sock); Fd mem = Memfd.create("warm", 0x1000);
                     EventFd e = EventFd.create()) {
                    p.negotiate();
                    p.call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(512, TestDevice.VENDOR_REGION)).close();
                    p.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0, 0x1000), mem).close();
                    p.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0x10000, 0x1000)).close();
                    p.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1), e.fd()).close();
                    p.write(4, 0, TestDevice.dmaCommand(0x10000, 8, TestDevice.OP_READ));
                    try (TestPeer.Msg req = p.nextServerCommand()) {
                        byte[] answer = new byte[16 + 8];
                        java.lang.foreign.MemorySegment a = java.lang.foreign.MemorySegment.ofArray(answer);
                        a.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x10000);
                        a.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8, 8);
                        p.reply(req, answer);
                    }
                    dev.nextDmaResult();
                    p.callError(Command.REGION_READ, TestPeer.regionRead(0, 0x2000, 4), List.of());
                }
            } finally {
                dev.dispose();
                Files.deleteIfExists(sock);
                Files.deleteIfExists(d);
            }
            OpenFds.describe(); // its classes loaded before the first count
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
