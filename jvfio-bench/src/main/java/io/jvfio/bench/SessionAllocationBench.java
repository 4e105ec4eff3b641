package io.jvfio.bench;

import io.jvfio.client.ClientOptions;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.MemoryRegionHandler;
import io.jvfio.server.PciDevice;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioException;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;

/**
 * Bytes the server's session thread allocates per message, for each message shape a guest's driver
 * sends (alone, repeated) and for a QEMU-like mix of them (sizes changing from one message to the
 * next), with and without fault rules armed; and per DMA reply when the device does DMA by message.
 * One JVM: a {@link VfioUserServer} over a socketpair to a {@link VfioUserClient}. The device reads
 * the session thread's allocation counter at two marked reads around each row's messages, so the
 * figure is the server's alone (not the client's, nor JMH's threads'). Optional argument: messages
 * per measurement (default 20,000).
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp jvfio-bench/target/benchmarks.jar io.jvfio.bench.SessionAllocationBench [MESSAGES]</pre>
 */
public final class SessionAllocationBench {
    private static final int MARK = 0xff0, DOORBELL = 0x800, CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;
    private static final long MAPPED_IOVA = 0x100000, MESSAGE_IOVA = 0x200000, PAGE = 0x1000;
    /** Messages per measurement, after {@link #WARM_UP_RUNS} times as many to warm up; {@link #RUNS} measurements per row. */
    private static final int DEFAULT_MESSAGES = 20_000, WARM_UP_RUNS = 3, RUNS = 3;

    /** What a row sends per round, and how many messages that is. */
    private interface Round {
        void run(VfioUserClient c) throws IOException;
    }

    private record Shape(String name, int messages, Round round) {}

    /**
     * BAR 0: 4 KiB of memory. A read of {@link #MARK} samples the session thread's allocation
     * counter; a write to {@link #DOORBELL} reads 8 bytes of client memory, writes them back 8
     * bytes further (mapped DMA) and raises and lowers INTx, as a device completing a command does.
     */
    static final class MarkingDevice extends PciDevice {
        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        private final MemorySegment dmaBuffer = Arena.ofAuto().allocate(8, 8);
        private volatile long lastMark;

        MarkingDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5679).classCode(0xff0000)
                    .interruptPin(1).bar(Bar.memory32(0, 0x1000)).build());
            MemoryRegionHandler memory = new MemoryRegionHandler(Arena.ofAuto().allocate(0x1000, 8));
            bar(0, new RegionHandler() {
                @Override
                public void read(long offset, MemorySegment dst) {
                    if (offset == MARK) {
                        lastMark = THREADS.getCurrentThreadAllocatedBytes();
                    }
                    memory.read(offset, dst);
                }

                @Override
                public void write(long offset, MemorySegment src) throws VfioException {
                    if (offset == DOORBELL) {
                        dma().read(MAPPED_IOVA, dmaBuffer, 0, 8);
                        dma().write(MAPPED_IOVA + 8, dmaBuffer, 0, 8);
                        interrupts().setIntx(true);
                        interrupts().setIntx(false);
                    }
                    memory.write(offset, src);
                }
            });
        }

        /** DMA by message from a device thread, as a device's own thread does it: {@code transfers} reads and writes of 8 bytes. */
        void dmaByMessage(int transfers) throws InterruptedException {
            MemorySegment buffer = Arena.ofAuto().allocate(8, 8);
            Thread t = Thread.ofPlatform().name("bench-device-dma").start(() -> {
                try {
                    for (int i = 0; i < transfers; i++) {
                        dma().read(MESSAGE_IOVA, buffer);
                        dma().write(MESSAGE_IOVA + 8, buffer);
                    }
                } catch (VfioException e) {
                    throw new IllegalStateException(e);
                }
            });
            t.join();
        }
    }

    private SessionAllocationBench() {}

    public static void main(String[] args) throws Exception {
        int messages = args.length > 0 ? Integer.parseInt(args[0]) : DEFAULT_MESSAGES;
        run(messages, System.out);
    }

    static void run(int messages, PrintStream out) throws Exception {
        MarkingDevice device = new MarkingDevice();
        UnixSocket[] ends = UnixSocket.pair();
        VfioUserServer server = VfioUserServer.adopt(ends[0].fd(), device, ServerOptions.defaults());
        server.start();
        try (VfioUserClient c = VfioUserClient.open(ends[1], ClientOptions.defaults());
             EventFd intx = EventFd.create()) {
            c.allocateDma(MAPPED_IOVA, PAGE);
            c.registerMemory(MESSAGE_IOVA, Arena.ofAuto().allocate(PAGE, 8),
                    Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE);
            c.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            out.println("| shape | messages per round | B/message (session thread) |");
            out.println("|---|---:|---:|");
            for (Shape shape : shapes()) {
                out.printf("| %s | %d | %.2f |%n", shape.name(), shape.messages(), bytesPerMessage(c, device, shape, messages));
            }
            Shape mix = mix();
            FaultRule elsewhere = FaultRule.on("elsewhere", new FaultMatch.RegionAccess(0, 0xf00, 0xf04, FaultMatch.Direction.WRITE),
                    new FaultAction.FailAccess(5));
            FaultRule rare = FaultRule.on("rare", FaultMatch.RegionAccess.anyOf(0), new FaultAction.Delay(Duration.ZERO))
                    .everyNth(Long.MAX_VALUE);
            FaultRule rareIntx = FaultRule.on("rare-intx", new FaultMatch.Interrupt(Vfio.PCI_INTX_IRQ_INDEX, 0),
                    new FaultAction.RepeatInterrupt(1)).everyNth(Long.MAX_VALUE);
            for (List<FaultRule> rules : List.of(List.of(elsewhere), List.of(rare, rareIntx))) {
                rules.forEach(device.faults()::add);
                String what = rules.size() == 1 ? "a rule that never matches" : "rules that match every access and interrupt, never fire";
                out.printf("| mix, %s | %d | %.2f |%n", what, mix.messages(), bytesPerMessage(c, device, mix, messages));
                device.faults().clear();
            }
            int transfers = messages / 2;
            device.dmaByMessage(WARM_UP_RUNS * transfers);
            long least = Long.MAX_VALUE;
            for (int run = 0; run < RUNS; run++) {
                long before = mark(c, device);
                device.dmaByMessage(transfers);
                least = Math.min(least, mark(c, device) - before);
            }
            out.printf("| DMA by message: DMA_READ and DMA_WRITE replies of 8 B (device thread) | 2 | %.2f |%n",
                    (double) least / (2 * transfers));
        } finally {
            server.close();
        }
    }

    /**
     * The least of {@link #RUNS} measurements: what a message allocates shows in each, a one-time
     * event of the JVM on that thread (a method handle customised, a deoptimisation) in one only.
     */
    private static double bytesPerMessage(VfioUserClient c, MarkingDevice device, Shape shape, int messages) throws IOException {
        int rounds = Math.max(1, messages / shape.messages());
        for (int i = 0; i < WARM_UP_RUNS * rounds; i++) { // the paths compiled, each size's views made
            shape.round().run(c);
        }
        long least = Long.MAX_VALUE;
        for (int run = 0; run < RUNS; run++) {
            long before = mark(c, device);
            for (int i = 0; i < rounds; i++) {
                shape.round().run(c);
            }
            least = Math.min(least, mark(c, device) - before);
        }
        return (double) least / (rounds * shape.messages());
    }

    /** The session thread's allocated bytes, sampled by the device during a marked read. */
    private static long mark(VfioUserClient c, MarkingDevice device) throws IOException {
        c.read32(0, MARK);
        return device.lastMark;
    }

    private static final MemorySegment POSTED = Arena.ofAuto().allocate(4, 4);
    private static final IrqSet UNMASK_INTX = IrqSet.none(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_UNMASK, 0, 1);
    private static final List<RegionWriteMulti.Entry> MULTI = List.of(
            new RegionWriteMulti.Entry(0x60, 0, new byte[] {1, 2, 3, 4}),
            new RegionWriteMulti.Entry(0x68, 0, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));

    private static List<Shape> shapes() {
        return List.of(
                new Shape("REGION_READ config 1 B", 1, c -> c.read8(CONFIG, 0)),
                new Shape("REGION_READ config 2 B", 1, c -> c.read16(CONFIG, 2)),
                new Shape("REGION_READ config 4 B", 1, c -> c.read32(CONFIG, 0x10)),
                new Shape("REGION_READ BAR 4 B", 1, c -> c.read32(0, 0x40)),
                new Shape("REGION_READ BAR 8 B", 1, c -> c.read64(0, 0x48)),
                new Shape("REGION_WRITE BAR 4 B", 1, c -> c.write32(0, 0x40, 1)),
                new Shape("REGION_WRITE BAR 8 B", 1, c -> c.write64(0, 0x48, 1)),
                new Shape("REGION_WRITE_MULTI, 2 entries (4 B, 8 B)", 1, c -> c.regionWriteMulti(MULTI, false)),
                new Shape("DEVICE_SET_IRQS: INTx UNMASK", 1, c -> c.setIrqs(UNMASK_INTX)),
                new Shape("doorbell: REGION_WRITE 4 B, mapped DMA of 2 × 8 B, INTx raised", 1, c -> c.write32(0, DOORBELL, 1)),
                new Shape("REGION_READ BAR 4 B, REGION_WRITE BAR 8 B, alternating", 2, c -> {
                    c.read32(0, 0x40);
                    c.write64(0, 0x48, 1);
                }),
                new Shape("REGION_READ config 4 B, then BAR 4 B", 2, c -> {
                    c.read32(CONFIG, 0x10);
                    c.read32(0, 0x40);
                }),
                new Shape("posted REGION_WRITE 4 B, then REGION_READ 4 B", 2, c -> {
                    c.regionWrite(0, 0x50, POSTED, true);
                    c.read32(0, 0x40);
                }),
                mix());
    }

    /** The mix of SessionAllocationTest: thirteen messages of eight sizes and five commands, as a guest's driver sends them. */
    private static Shape mix() {
        return new Shape("mix: all of the above, interleaved", 13, c -> {
            c.read8(CONFIG, 0);
            c.read16(CONFIG, 2);
            c.read32(0, 0x40);
            c.write64(0, 0x48, 1);
            c.read32(CONFIG, 0x10);
            c.read64(0, 0x48);
            c.write32(0, 0x40, 1);
            c.regionWrite(0, 0x50, POSTED, true);
            c.write32(0, DOORBELL, 1);
            c.setIrqs(UNMASK_INTX);
            c.regionWrite(0, 0x50, POSTED, true);
            c.regionWriteMulti(MULTI, false);
            c.read32(0, 0x40);
        });
    }
}
