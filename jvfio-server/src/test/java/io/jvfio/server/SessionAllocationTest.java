package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.testing.Allocations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The session thread allocates nothing per message with the deadlines and the callback watchdog
 * on (their defaults): a device whose BAR is plain memory reads the thread's allocation counter at
 * two marked region reads with thousands of ordinary ones between them. Besides one shape repeated,
 * a QEMU-like mix: messages of different sizes one after the other (config reads of 1, 2 and 4
 * bytes, BAR reads and writes of 4 and 8, posted writes, REGION_WRITE_MULTI, an INTx UNMASK) and a
 * doorbell whose device does mapped DMA and raises INTx — without fault rules, and with rules armed
 * that never match, that match and never fire, and that fire a delay of 0.
 */
class SessionAllocationTest extends ServerTestBase {
    private static final int MARK = 0xff0, DOORBELL = 0x800, MESSAGES = 20_000, MIX_ROUNDS = 2_000;
    /** Each round of {@link Mix#round} sends this many messages. */
    private static final int MIX_MESSAGES = 13;
    private static final long IOVA = 0x100000, MESSAGE_IOVA = 0x200000, PAGE = 0x1000;
    /** Bytes per message the session may allocate in steady state: a few stray bytes over tens of thousands of messages. */
    private static final double BOUND = 0.5;
    private static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;
    /** What a firing may cost: its log entry and the server's log line about it. */
    private static final double FIRING_BOUND = 16 * 1024;

    /**
     * BAR 0: 4 KiB of memory; reads of {@link #MARK} sample the session thread's allocated bytes;
     * a write to {@link #DOORBELL} makes the device read 8 bytes of client memory, write them back
     * 8 bytes further, and raise and lower INTx (as a device completing a command does).
     */
    static final class MarkingDevice extends PciDevice {
        /** Samples in pairs: each pair brackets one measurement. */
        final long[] marks = new long[4];
        private final MemorySegment dmaBuffer = Arena.ofAuto().allocate(8, 8);
        private int taken;

        MarkingDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5679).classCode(0xff0000)
                    .interruptPin(1).bar(Bar.memory32(0, 0x1000)).build());
            MemoryRegionHandler memory = new MemoryRegionHandler(Arena.ofAuto().allocate(0x1000, 8));
            bar(0, new RegionHandler() {
                @Override
                public void read(long offset, MemorySegment dst) {
                    if (offset == MARK && taken < marks.length) {
                        marks[taken++] = Allocations.currentThread();
                    }
                    memory.read(offset, dst);
                }

                @Override
                public void write(long offset, MemorySegment src) throws VfioException {
                    if (offset == DOORBELL) {
                        dma().read(IOVA, dmaBuffer, 0, 8);
                        dma().write(IOVA + 8, dmaBuffer, 0, 8);
                        interrupts().setIntx(true);
                        interrupts().setIntx(false);
                    }
                    memory.write(offset, src);
                }
            });
        }

        /** From a device thread, as a device's own thread does it: {@code transfers} reads and writes of 8 bytes. */
        Thread dmaByMessage(int transfers) {
            MemorySegment buffer = Arena.ofAuto().allocate(8, 8);
            return Thread.ofPlatform().name("test-device-dma").start(() -> {
                try {
                    for (int i = 0; i < transfers; i++) {
                        dma().read(MESSAGE_IOVA, buffer);
                        dma().write(MESSAGE_IOVA + 8, buffer);
                    }
                } catch (VfioException e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        /**
         * The least of the measurements taken: what a message allocates shows in each, a one-time
         * event of the JVM on the session thread (a method handle customised, a deoptimisation) in one only.
         */
        long allocatedBetweenMarks() {
            assertThat(taken).as("marks taken in pairs").isPositive().isEven();
            long least = Long.MAX_VALUE;
            for (int i = 0; i < taken; i += 2) {
                least = Math.min(least, marks[i + 1] - marks[i]);
            }
            return least;
        }
    }

    @Test
    void regionReadsAllocateNothingOnTheSessionThread() throws Exception {
        assertThat(ServerOptions.defaults().deadlines()).isEqualTo(Deadlines.defaults());
        MarkingDevice marking = new MarkingDevice();
        server = VfioUserServer.bind(socketPath(), marking, ServerOptions.defaults());
        server.start();
        TestPeer c = client();
        byte[] data = {1, 2, 3, 4};
        for (int i = 0; i < MESSAGES; i++) { // warm-up: the paths compiled, the lazy parts made
            c.write(0, 0, data);
            c.read(0, 0, 4);
            c.read(0, 0, 4);
        }
        c.read(0, MARK, 4);
        for (int i = 0; i < 2 * MESSAGES; i++) { // same-sized messages: the session's cached views fit every one
            c.read(0, 0, 4);
        }
        c.read(0, MARK, 4);
        long allocated = marking.allocatedBetweenMarks();
        assertThat(allocated).as("bytes the session thread allocated over %d messages (marks %s)", MESSAGES,
                Arrays.toString(marking.marks)).isLessThan(8192);
    }

    @Test
    void aQemuLikeMixOfMessagesAllocatesNothingOnTheSessionThread() throws Exception {
        assertThat(mixBytesPerMessage(null)).as("bytes per message of the mix").isLessThanOrEqualTo(BOUND);
    }

    @Test
    void theMixAllocatesNothingWithAFaultRuleArmedThatNeverMatches() throws Exception {
        FaultRule elsewhere = FaultRule.on("elsewhere", new FaultMatch.RegionAccess(0, 0xf00, 0xf04, FaultMatch.Direction.WRITE),
                new FaultAction.FailAccess(5));
        assertThat(mixBytesPerMessage(List.of(elsewhere, FaultRule.on("no-msix", new FaultMatch.Interrupt(Vfio.PCI_MSIX_IRQ_INDEX, 0),
                new FaultAction.DropInterrupt())))).as("bytes per message of the mix").isLessThanOrEqualTo(BOUND);
    }

    @Test
    void theMixAllocatesNothingWithFaultRulesThatMatchEveryAccessButDoNotFire() throws Exception {
        FaultRule everyAccess = FaultRule.on("rare", FaultMatch.RegionAccess.anyOf(0), new FaultAction.Delay(Duration.ZERO))
                .everyNth(Long.MAX_VALUE);
        FaultRule everyIntx = FaultRule.on("rare-intx", new FaultMatch.Interrupt(Vfio.PCI_INTX_IRQ_INDEX, 0),
                new FaultAction.RepeatInterrupt(1)).everyNth(Long.MAX_VALUE);
        assertThat(mixBytesPerMessage(List.of(everyAccess, everyIntx))).as("bytes per message of the mix")
                .isLessThanOrEqualTo(BOUND);
    }

    /**
     * A rule that fires costs its firing: the registry's log entry (the time, the rule's id, the
     * access described) and the server's INFO line about it — about 10 KB, mostly the logger's.
     * Bounded per firing, and the messages around the firings add nothing.
     */
    @Test
    void aRuleThatFiresADelayOfZeroCostsOnlyItsLogEntry() throws Exception {
        FaultRule config = FaultRule.on("config-delay", FaultMatch.RegionAccess.anyOf(CONFIG), new FaultAction.Delay(Duration.ZERO));
        double perMessage = mixBytesPerMessage(List.of(config));
        int firingsPerRound = 3; // the three config reads
        assertThat(perMessage * MIX_MESSAGES / firingsPerRound).as("bytes per firing").isLessThanOrEqualTo(FIRING_BOUND);
    }


    /** A device thread's DMA to a window without fd: the session thread routes the client's replies, allocating nothing. */
    @Test
    void dmaRepliesByMessageAllocateNothingOnTheSessionThread() throws Exception {
        MarkingDevice marking = new MarkingDevice();
        server = VfioUserServer.bind(socketPath(), marking, ServerOptions.defaults());
        server.start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, MESSAGE_IOVA, PAGE)).close();
        int transfers = MESSAGES / 2;
        answerDma(c, marking.dmaByMessage(3 * transfers), 3 * transfers); // warm-up
        for (int measurement = 0; measurement < 2; measurement++) {
            c.read(0, MARK, 4);
            answerDma(c, marking.dmaByMessage(transfers), transfers);
            c.read(0, MARK, 4);
        }
        double perReply = (double) marking.allocatedBetweenMarks() / (2 * transfers);
        System.out.printf("session, DMA by message: %.2f B/reply (marks %s)%n", perReply, Arrays.toString(marking.marks));
        assertThat(perReply).as("bytes per DMA reply").isLessThanOrEqualTo(BOUND);
    }

    /** The client's side of {@code transfers} DMA_READs and DMA_WRITEs of 8 bytes: each answered in full. */
    private static void answerDma(TestPeer c, Thread device, int transfers) throws Exception {
        for (int i = 0; i < 2 * transfers; i++) {
            try (TestPeer.Msg request = c.nextServerCommand()) {
                byte[] addressAndCount = Arrays.copyOf(request.payload(), 16);
                c.reply(request, request.command() == Command.DMA_READ.code() ? Arrays.copyOf(addressAndCount, 16 + 8) : addressAndCount);
            }
        }
        device.join();
    }

    /**
     * Runs the mix on a fresh server with {@code rules} armed (null: none) and returns the bytes the
     * session thread allocated per message: the least of two measurements of {@link #MIX_ROUNDS} rounds, after a warm-up.
     */
    private double mixBytesPerMessage(List<FaultRule> rules) throws Exception {
        MarkingDevice marking = new MarkingDevice();
        server = VfioUserServer.bind(socketPath(), marking, ServerOptions.defaults());
        server.start();
        if (rules != null) {
            rules.forEach(marking.faults()::add);
        }
        TestPeer c = client();
        Fd memory = closeLater(Memfd.create("client-ram", PAGE));
        c.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, IOVA, PAGE), memory).close();
        EventFd intx = closeLater(EventFd.create());
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1),
                intx.fd()).close();
        Mix mix = new Mix();
        for (int i = 0; i < 5 * MIX_ROUNDS; i++) { // warm-up: the paths compiled, the lazy parts made
            mix.round(c);
        }
        for (int measurement = 0; measurement < 2; measurement++) {
            c.read(0, MARK, 4);
            for (int i = 0; i < MIX_ROUNDS; i++) {
                mix.round(c);
            }
            c.read(0, MARK, 4);
        }
        double perMessage = (double) marking.allocatedBetweenMarks() / (MIX_ROUNDS * MIX_MESSAGES);
        System.out.printf("session mix, rules %s: %.2f B/message (marks %s)%n", rules == null ? "none" : rules.stream()
                .map(FaultRule::id).toList(), perMessage, Arrays.toString(marking.marks));
        return perMessage;
    }

    /** The client's side of the mix: its requests encoded once. */
    private static final class Mix {
        final byte[] configRead1 = TestPeer.regionRead(CONFIG, 0x00, 1);
        final byte[] configRead2 = TestPeer.regionRead(CONFIG, 0x02, 2);
        final byte[] configRead4 = TestPeer.regionRead(CONFIG, 0x10, 4);
        final byte[] barRead4 = TestPeer.regionRead(0, 0x40, 4);
        final byte[] barRead8 = TestPeer.regionRead(0, 0x48, 8);
        final byte[] barWrite4 = TestPeer.regionWrite(0, 0x40, new byte[] {1, 2, 3, 4});
        final byte[] barWrite8 = TestPeer.regionWrite(0, 0x48, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        final byte[] postedWrite4 = TestPeer.regionWrite(0, 0x50, new byte[] {9, 9, 9, 9});
        final byte[] doorbell = TestPeer.regionWrite(0, DOORBELL, new byte[] {1, 0, 0, 0});
        final byte[] unmaskIntx = TestPeer.bytes(IrqSet.none(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_UNMASK, 0, 1));
        final byte[] writeMulti = TestPeer.bytes(new RegionWriteMulti(List.of(
                new RegionWriteMulti.Entry(0x60, 0, new byte[] {1, 2, 3, 4}),
                new RegionWriteMulti.Entry(0x68, 0, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}))));

        /** {@link #MIX_MESSAGES} messages of different sizes and kinds, in the order a guest's driver might send them. */
        void round(TestPeer c) throws Exception {
            call(c, Command.REGION_READ, configRead1, RegionAccess.SIZE + 1);
            call(c, Command.REGION_READ, configRead2, RegionAccess.SIZE + 2);
            call(c, Command.REGION_READ, barRead4, RegionAccess.SIZE + 4);
            call(c, Command.REGION_WRITE, barWrite8, RegionAccess.SIZE);
            call(c, Command.REGION_READ, configRead4, RegionAccess.SIZE + 4);
            call(c, Command.REGION_READ, barRead8, RegionAccess.SIZE + 8);
            call(c, Command.REGION_WRITE, barWrite4, RegionAccess.SIZE);
            c.send(Command.REGION_WRITE.code(), postedWrite4, true, List.of()); // posted, as QEMU posts BAR writes
            call(c, Command.REGION_WRITE, doorbell, RegionAccess.SIZE);
            call(c, Command.DEVICE_SET_IRQS, unmaskIntx, 0);
            c.send(Command.REGION_WRITE.code(), postedWrite4, true, List.of());
            call(c, Command.REGION_WRITE_MULTI, writeMulti, 8);
            call(c, Command.REGION_READ, barRead4, RegionAccess.SIZE + 4);
        }

        private static void call(TestPeer c, Command command, byte[] payload, int replyPayload) throws Exception {
            try (TestPeer.Msg m = c.call(command, payload)) {
                assertThat(m.payload()).hasSize(replyPayload);
            }
        }
    }
}
