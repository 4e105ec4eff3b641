package io.jvfio.cli.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.PciIdio16;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Vfio;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.PciDevice;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioException;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import io.jvfio.testing.OpenFds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.jvfio.protocol.IrqSet;

/** {@code jvfio trace} between the jvfio client and a real GPIO server. */
class TraceProxyTest {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX;
    private static final long IOVA = 0x10_0000;

    @TempDir
    Path dir;
    private PciIdio16 card;
    private VfioUserServer server;
    private TraceProxy proxy;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private OpenFds fdsBefore;

    /** One whole round first, so that lazily opened JDK files are not counted as leaks. */
    @BeforeAll
    static void warmUp(@TempDir Path warm) throws Exception {
        try (VfioUserServer s = VfioUserServer.bind(warm.resolve("gpio.sock"), new PciIdio16(), ServerOptions.defaults());
             TraceProxy p = TraceProxy.bind(warm.resolve("trace.sock"), warm.resolve("gpio.sock"), line -> { }).start()) {
            s.start();
            try (VfioUserClient c = VfioUserClient.connect(warm.resolve("trace.sock"))) {
                c.deviceInfo();
            }
        }
    }

    @BeforeEach
    void serve() throws Exception {
        fdsBefore = OpenFds.snapshot();
        card = new PciIdio16();
        server = VfioUserServer.bind(dir.resolve("gpio.sock"), card, ServerOptions.defaults());
        server.start();
        proxy = TraceProxy.bind(dir.resolve("trace.sock"), dir.resolve("gpio.sock"), lines::add).start();
    }

    @AfterEach
    void stop() throws Exception {
        if (System.getenv("JVFIO_TRACE_TEST_DEBUG") != null) {
            lines.forEach(System.out::println);
        }
        proxy.close();
        server.close();
        assertThat(Files.exists(dir.resolve("trace.sock"))).as("socket file removed").isFalse();
        fdsBefore.assertNoneLeaked(Duration.ZERO); // client, proxy and server
    }

    private VfioUserClient connectThroughProxy() throws Exception {
        return VfioUserClient.connect(proxy.listenPath());
    }

    private static void await(BooleanSupplier condition, String what) throws Exception {
        if (!Await.until(Duration.ofSeconds(10), condition::getAsBoolean)) {
            throw new AssertionError("timed out waiting for " + what);
        }
    }

    private List<String> linesContaining(String text) {
        return lines.stream().filter(l -> l.contains(text)).toList();
    }

    /** What a driver does with the card; returns what it observed, to compare with and without the proxy. */
    private List<Object> driveTheCard(VfioUserClient client, int inputs) throws Exception {
        List<Object> seen = new ArrayList<>();
        seen.add(client.deviceInfo());
        try (RegionDescription bar2 = client.regionInfo(BAR2)) {
            seen.add(bar2.info());
        }
        seen.add(client.irqInfo(Vfio.PCI_INTX_IRQ_INDEX));
        client.write8(BAR2, 0x0, 0x5a);
        client.write8(BAR2, 0x4, 0xc3);
        seen.add(card.outputs());
        seen.add(client.read8(BAR2, 0x0));
        seen.add(client.read32(Vfio.PCI_CONFIG_REGION_INDEX, 0));
        try (EventFd intx = EventFd.create()) {
            client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            client.read8(BAR2, 0x2); // enables the card's interrupt
            card.setInputs(inputs);
            seen.add(intx.await(Duration.ofSeconds(5)));
            seen.add(client.read8(BAR2, 0x6)); // interrupt status
            client.write8(BAR2, 0x1, 0); // clear it
            client.unmaskIntx();
            client.setIrqs(IrqSet.eventfds(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 0));
        }
        try (Fd memory = Memfd.create("dma", 0x1000)) {
            long mappedBefore = server.stats().mappedDmaWindows();
            client.dmaMap(IOVA, 0x1000, Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, memory, 0);
            seen.add(server.stats().mappedDmaWindows() - mappedBefore);
            client.dmaUnmap(IOVA, 0x1000);
        }
        return seen;
    }

    @Test
    void tracesEveryMessageAndForwardsFdsUnchanged() throws Exception {
        List<Object> direct;
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow())) {
            direct = driveTheCard(client, 0x1);
        }
        await(() -> !server.hasClient(), "the direct client to go");
        List<Object> proxied;
        try (VfioUserClient client = connectThroughProxy()) {
            proxied = driveTheCard(client, 0x3);
        }
        await(() -> !linesContaining("--- connection 1 closed").isEmpty(), "the proxied connection to close");
        lines.forEach(System.out::println);

        assertThat(proxied).as("what the driver sees through the proxy").isEqualTo(direct);
        assertThat(proxied).contains(true); // the INTx eventfd fired through the proxy
        assertThat(proxied.get(proxied.size() - 1)).as("the memfd reached the server and was mapped").isEqualTo(1L);

        assertThat(lines.get(0)).matches(" *\\d+\\.\\d{3} --- connection 1: client connected \\(pid \\d+, uid \\d+\\), upstream .*gpio.sock connected");
        assertThat(lines).anyMatch(l -> l.matches(" *\\d+\\.\\d{3} C>S #0 VERSION cmd 0\\.0 \\{\"capabilities\":.*\\} fds=0"));
        assertThat(lines).anyMatch(l -> l.matches(" *\\d+\\.\\d{3} S>C #0 VERSION reply 0\\.0 \\{\"capabilities\":.*\\} fds=0"));
        assertThat(linesContaining("DEVICE_GET_INFO reply")).singleElement().asString()
                .endsWith("flags=RESET,PCI num_regions=9 num_irqs=5 argsz=16 fds=0");
        assertThat(linesContaining("C>S #2 DEVICE_GET_REGION_INFO cmd index=2(BAR2) argsz=32 fds=0")).hasSize(1);
        assertThat(linesContaining("S>C #2 DEVICE_GET_REGION_INFO reply index=2(BAR2) size=0x100 flags=R,W offset=0x0 argsz=32 fds=0")).hasSize(1);
        assertThat(linesContaining("DEVICE_GET_IRQ_INFO reply index=0(INTx) count=1 flags=EVENTFD,MASKABLE,AUTOMASKED fds=0")).hasSize(1);
        assertThat(linesContaining("REGION_WRITE cmd region=2(BAR2) offset=0x0 count=1 value=0x5a fds=0")).hasSize(1);
        assertThat(linesContaining("REGION_WRITE reply region=2(BAR2) offset=0x0 count=1 fds=0")).hasSize(1);
        assertThat(linesContaining("REGION_READ reply region=2(BAR2) offset=0x0 count=1 value=0x5a fds=0")).hasSize(1);
        assertThat(linesContaining("REGION_READ reply region=7(CONFIG) offset=0x0 count=4 value=0x0dc8494f fds=0")).hasSize(1);
        assertThat(linesContaining("C>S")).allMatch(l -> !l.contains("S>C"));
        List<String> setIrqs = linesContaining("DEVICE_SET_IRQS cmd");
        assertThat(setIrqs).hasSize(3);
        assertThat(setIrqs.get(0)).contains("C>S").endsWith("index=0(INTx) start=0 count=1 flags=EVENTFD|TRIGGER fds=1");
        assertThat(setIrqs.get(1)).endsWith("index=0(INTx) start=0 count=1 flags=NONE|UNMASK fds=0");
        assertThat(setIrqs.get(2)).endsWith("index=0(INTx) start=0 count=0 flags=EVENTFD|TRIGGER fds=0");
        assertThat(linesContaining("DMA_MAP cmd iova=0x100000 size=0x1000 offset=0x0 flags=R,W fds=1")).hasSize(1);
        assertThat(linesContaining("S>C")).filteredOn(l -> l.contains("DMA_MAP reply")).singleElement().asString().endsWith("fds=0");
        assertThat(linesContaining("DMA_UNMAP cmd iova=0x100000 size=0x1000 fds=0")).hasSize(1);
        assertThat(lines.getLast()).endsWith("--- connection 1 closed: client closed the connection");
        assertThat(linesContaining("undecodable")).isEmpty();
        // Every command got exactly one reply line with its id.
        long commands = lines.stream().filter(l -> l.contains(" C>S ") && l.contains(" cmd")).count();
        long replies = lines.stream().filter(l -> l.contains(" S>C ") && l.contains(" reply")).count();
        assertThat(replies).isEqualTo(commands);
    }

    /** Copies 4 bytes of guest memory from IOVA to IOVA + 8 when BAR0 offset 0 is written: DMA_READ, then DMA_WRITE. */
    static final class DmaCopier extends PciDevice {
        DmaCopier() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5678).classCode(0xff0000)
                    .bar(Bar.memory32(0, 0x100)).build());
            bar(0, new RegionHandler() {
                @Override
                public void read(long offset, MemorySegment dst) {
                    dst.fill((byte) 0);
                }

                @Override
                public void write(long offset, MemorySegment src) {
                    // Message-based DMA must come from a device thread, as a real device's engine would.
                    Thread.ofPlatform().daemon().start(() -> {
                        try {
                            MemorySegment word = MemorySegment.ofArray(new byte[4]);
                            dma().read(IOVA, word);
                            dma().write(IOVA + 8, word);
                            copied.complete(null);
                        } catch (VfioException | RuntimeException e) {
                            copied.completeExceptionally(e);
                        }
                    });
                }
            });
        }

        final CompletableFuture<Void> copied = new CompletableFuture<>();
    }

    @Test
    void serverToClientDmaMessagesAreTracedBothWays() throws Exception {
        DmaCopier copier = new DmaCopier();
        try (VfioUserServer dmaServer = VfioUserServer.bind(dir.resolve("dma.sock"), copier, ServerOptions.defaults());
             TraceProxy dmaProxy = TraceProxy.bind(dir.resolve("dma-trace.sock"), dir.resolve("dma.sock"), lines::add).start()) {
            dmaServer.start();
            try (Arena arena = Arena.ofShared(); VfioUserClient client = VfioUserClient.connect(dmaProxy.listenPath())) {
                MemorySegment memory = arena.allocate(0x1000);
                memory.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x11223344);
                client.registerMemory(IOVA, memory, Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE);
                client.write32(Vfio.PCI_BAR0_REGION_INDEX, 0, 1);
                copier.copied.get(10, TimeUnit.SECONDS);
                assertThat(memory.get(ValueLayout.JAVA_INT_UNALIGNED, 8)).isEqualTo(0x11223344);
            }
            await(() -> !linesContaining("--- connection 1 closed").isEmpty(), "the close line");
        }
        lines.forEach(System.out::println);
        assertThat(linesContaining("C>S #1 DMA_MAP cmd iova=0x100000 size=0x1000 offset=0x0 flags=R,W fds=0")).hasSize(1);
        assertThat(lines).anyMatch(l -> l.matches(".* S>C #\\d+ DMA_READ cmd address=0x100000 count=4 fds=0"));
        assertThat(lines).anyMatch(l -> l.matches(".* C>S #\\d+ DMA_READ reply address=0x100000 count=4 value=0x11223344 fds=0"));
        assertThat(lines).anyMatch(l -> l.matches(".* S>C #\\d+ DMA_WRITE cmd address=0x100008 count=4 value=0x11223344 fds=0"));
        assertThat(lines).anyMatch(l -> l.matches(".* C>S #\\d+ DMA_WRITE reply address=0x100008 count=4 fds=0"));
        assertThat(linesContaining("undecodable")).isEmpty();
    }

    @Test
    void clientClosingClosesUpstreamAndTheNextClientIsServed() throws Exception {
        try (VfioUserClient first = connectThroughProxy()) {
            first.deviceInfo();
            await(server::hasClient, "the server to see the proxied client");
        }
        await(() -> !server.hasClient(), "the proxy to close its upstream connection");
        await(() -> !linesContaining("--- connection 1 closed: client closed the connection").isEmpty(), "the close line");
        try (VfioUserClient second = connectThroughProxy()) {
            assertThat(second.deviceInfo().numRegions()).isEqualTo(Vfio.PCI_NUM_REGIONS);
            assertThat(proxy.connectionCount()).isEqualTo(2);
        }
        await(() -> !linesContaining("--- connection 2 closed").isEmpty(), "the second close line");
    }

    @Test
    void serverClosingDisconnectsTheClient() throws Exception {
        try (VfioUserClient client = connectThroughProxy()) {
            client.deviceInfo();
            await(server::hasClient, "the server to see the proxied client");
            server.close();
            await(() -> !client.isConnected(), "the client to see the server go");
        }
        await(() -> !linesContaining("--- connection 1 closed: server closed the connection").isEmpty(), "the close line");
    }

    @Test
    void undecodableMessagesAreStillForwarded() throws Exception {
        try (UnixSocket raw = UnixSocket.connect(proxy.listenPath())) {
            // Unknown command 99 with a 3-byte payload: the server answers ENOSYS, the proxy just passes it on.
            MemorySegment message = MemorySegment.ofArray(new byte[Header.SIZE + 3]);
            Header.writeCommand(message, 7, 99, message.byteSize(), false);
            raw.send(message);
            MemorySegment reply = MemorySegment.ofArray(new byte[Header.SIZE]);
            assertThat(raw.receiveFully(reply, new ArrayList<>())).isTrue();
            assertThat(Header.msgId(reply)).isEqualTo(7);
            assertThat(Header.isError(reply)).isTrue();
            // A malformed REGION_READ (payload too short) is forwarded too.
            MemorySegment bad = MemorySegment.ofArray(new byte[Header.SIZE + 4]);
            Header.writeCommand(bad, 8, Command.REGION_READ.code(), bad.byteSize(), false);
            raw.send(bad);
            assertThat(raw.receiveFully(reply, new ArrayList<>())).isTrue();
            assertThat(Header.msgId(reply)).isEqualTo(8);
        }
        await(() -> !linesContaining("--- connection 1 closed").isEmpty(), "the close line");
        assertThat(linesContaining("C>S #7 command 99 cmd undecodable: unknown command 99, 3-byte payload fds=0")).hasSize(1);
        assertThat(linesContaining("S>C #7 command 99 reply ERROR ")).hasSize(1);
        assertThat(linesContaining("C>S #8 REGION_READ cmd undecodable: ")).hasSize(1);
        assertThat(linesContaining("S>C #8 REGION_READ reply ERROR EINVAL fds=0")).hasSize(1);
    }

    @Test
    void unreachableUpstreamDropsTheClientAndKeepsListening() throws Exception {
        server.close();
        await(() -> !Files.exists(dir.resolve("gpio.sock")), "the server socket to go");
        try (UnixSocket raw = UnixSocket.connect(proxy.listenPath())) {
            assertThat(raw.receiveFully(MemorySegment.ofArray(new byte[1]), new ArrayList<>())).as("dropped").isFalse();
        }
        assertThat(linesContaining("--- connection 1: client connected")).singleElement().asString()
                .contains("upstream connect " + dir.resolve("gpio.sock") + ": ENOENT", "client dropped");
    }

    @Test
    void refusesToReplaceALiveSocketOrAFile() throws Exception {
        assertThatThrownBy(() -> TraceProxy.bind(dir.resolve("gpio.sock"), dir.resolve("x.sock"), l -> { }))
                .isInstanceOf(LinuxException.class).hasMessageContaining("in use by a live server");
        Path file = Files.writeString(dir.resolve("file"), "keep me");
        assertThatThrownBy(() -> TraceProxy.bind(file, dir.resolve("gpio.sock"), l -> { }))
                .hasMessageContaining("is not a socket");
        assertThat(Files.readString(file)).isEqualTo("keep me");
        assertThatThrownBy(() -> TraceProxy.bind(dir.resolve("a.sock"), dir.resolve("a.sock"), l -> { }))
                .hasMessageContaining("same socket");
    }
}
