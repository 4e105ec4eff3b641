package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The core's faults beyond {@link FaultInjectionTest}'s, seen by a client over the socket: a
 * stalled device (at an access, or at once), interrupts delivered late, and REGION_WRITE_MULTI
 * entries meeting the rules as writes. Durations are only ever lower bounds, so nothing flakes on
 * a slow machine. The base class checks that no fd outlives a test.
 */
class CoreFaultInjectionTest extends ServerTestBase {
    private static final int BAR0 = Vfio.PCI_BAR0_REGION_INDEX, MSIX = Vfio.PCI_MSIX_IRQ_INDEX;
    private static final byte[] DATA = {1, 2, 3, 4};
    private static final Duration STALL = Duration.ofMillis(150);

    private EventFd wireMsixVector(TestPeer c, int vector) throws Exception {
        EventFd e = closeLater(EventFd.create());
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(MSIX, Vfio.IRQ_SET_ACTION_TRIGGER, vector, 1), e.fd()).close();
        return e;
    }

    private static void setMask(TestPeer c, int vector, boolean masked) throws Exception {
        int action = masked ? Vfio.IRQ_SET_ACTION_MASK : Vfio.IRQ_SET_ACTION_UNMASK;
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, action, vector, 1)).close();
    }

    private static long fired(EventFd e) throws Exception {
        return e.await(Duration.ZERO) ? e.read() : 0;
    }

    private static Duration since(long nanos) {
        return Duration.ofNanos(System.nanoTime() - nanos);
    }

    @Test
    void aStallAtAnAccessHoldsUpEveryMessageBehindItThenTheAccessGoesOn() throws Exception {
        start();
        TestPeer c = client();
        server.faults().add(FaultRule.on("hang", new FaultMatch.RegionAccess(BAR0, 0x40, 0x44, FaultMatch.Direction.WRITE),
                new FaultAction.Stall(STALL)).times(1));
        long begun = System.nanoTime();
        int write = c.send(Command.REGION_WRITE, TestPeer.regionWrite(BAR0, 0x40, DATA));
        int read = c.send(Command.REGION_READ, TestPeer.regionRead(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2));
        c.replyTo(write).close();
        try (TestPeer.Msg m = c.replyTo(read)) {
            assertThat(m.isError()).isFalse();
        }
        assertThat(since(begun)).as("the read of another region waited too").isGreaterThanOrEqualTo(STALL);
        assertThat(c.read(BAR0, 0x40, 4)).as("the stalled write reached the device").containsExactly(DATA);
        assertThat(server.faults().log()).extracting(FaultFiring::matched).containsExactly("region 0 write 0x40+4");
    }

    @Test
    void aStallRuleForNowStallsTheSessionAtOnce() throws Exception {
        start();
        TestPeer c = client();
        long begun = System.nanoTime();
        server.faults().add(FaultRule.on("hang-now", new FaultMatch.Now(), new FaultAction.Stall(STALL)));
        assertThat(c.read(BAR0, 0, 4)).containsExactly(0, 0, 0, 0);
        assertThat(since(begun)).isGreaterThanOrEqualTo(STALL);
        assertThat(server.faults().log()).extracting(FaultFiring::matched).containsExactly("now");
        assertThat(server.faults().rules()).as("a now rule is not armed").isEmpty();
    }

    @Test
    void aStalledDevicesOwnThreadsGoOnAndClosingTheServerEndsTheStall() throws Exception {
        start();
        TestPeer c = client();
        Fd memory = closeLater(Memfd.create("client-ram", 0x1000));
        c.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0x100000, 0x1000), memory).close();
        EventFd e = wireMsixVector(c, 2);
        server.faults().add(FaultRule.on("hang-long", new FaultMatch.Now(), new FaultAction.Stall(Duration.ofHours(1))));
        c.send(Command.REGION_READ, TestPeer.regionRead(BAR0, 0, 4)); // held by the stall

        device.dmaSpace().write(0x100000, MemorySegment.ofArray(DATA)); // the device's DMA through a mapped window
        device.interrupts().trigger(MSIX, 2);
        assertThat(fired(e)).as("its interrupts are delivered").isEqualTo(1);
        server.close();
        assertThat(server.hasClient()).as("the stalled session ended with the server").isFalse();
        assertThatThrownBy(() -> device.faults().add(FaultRule.on("again", new FaultMatch.Now(), new FaultAction.Stall(STALL))))
                .as("no server carries a stall out any more").isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aDelayedInterruptArrivesLaterAndOthersPassIt() throws Exception {
        start();
        TestPeer c = client();
        EventFd three = wireMsixVector(c, 3);
        EventFd four = wireMsixVector(c, 4);
        server.faults().add(FaultRule.on("late", new FaultMatch.Interrupt(MSIX, 3),
                new FaultAction.DelayInterrupt(Duration.ofSeconds(2))).times(1));

        device.interrupts().trigger(MSIX, 3);
        device.interrupts().trigger(MSIX, 4);
        assertThat(fired(four)).as("not held up").isEqualTo(1);
        assertThat(fired(three)).as("still on its way").isZero();
        assertThat(three.await(Duration.ofSeconds(10))).isTrue();
        assertThat(three.read()).isEqualTo(1);
        assertThat(server.faults().log()).extracting(FaultFiring::matched).containsExactly("irq 2/3");
    }

    @Test
    void aDelayedInterruptThatArrivesOnAMaskedVectorIsHeldUntilUnmasked() throws Exception {
        start();
        TestPeer c = client();
        EventFd e = wireMsixVector(c, 0);
        Duration delay = Duration.ofMillis(200);
        server.faults().add(FaultRule.on("late", new FaultMatch.Interrupt(MSIX, 0), new FaultAction.DelayInterrupt(delay)).times(1));

        device.interrupts().trigger(MSIX, 0);
        setMask(c, 0, true);
        assertThat(e.await(delay.multipliedBy(5))).as("masked when it arrived").isFalse();
        setMask(c, 0, false);
        assertThat(e.await(Duration.ofSeconds(10))).as("pending, delivered on unmask").isTrue();
        assertThat(e.read()).isEqualTo(1);
    }

    @Test
    void aDelayedInterruptIsLostWhenItsClientIsGone() throws Exception {
        start();
        TestPeer c = client();
        wireMsixVector(c, 0);
        Duration delay = Duration.ofMillis(200);
        server.faults().add(FaultRule.on("late", new FaultMatch.Interrupt(MSIX, 0), new FaultAction.DelayInterrupt(delay)).times(1));
        device.interrupts().trigger(MSIX, 0);
        c.close();

        TestPeer next = client();
        EventFd e = wireMsixVector(next, 0);
        assertThat(e.await(delay.multipliedBy(5))).as("not delivered to the next client").isFalse();
        device.interrupts().trigger(MSIX, 0);
        assertThat(fired(e)).as("the rule is spent").isEqualTo(1);
    }

    @Test
    void aWriteMultipleEntryThatAFaultFailsFailsTheWholeMessageWithNothingWritten() throws Exception {
        start();
        TestPeer c = client();
        server.faults().add(FaultRule.on("eio", new FaultMatch.RegionAccess(BAR0, 0x40, 0x44, FaultMatch.Direction.WRITE),
                new FaultAction.FailAccess(Errno.EIO)).times(1));
        RegionWriteMulti multi = new RegionWriteMulti(List.of(
                new RegionWriteMulti.Entry(0x10, BAR0, new byte[] {1}),
                new RegionWriteMulti.Entry(0x40, BAR0, DATA)));

        assertThat(c.callError(Command.REGION_WRITE_MULTI, multi)).isEqualTo(Errno.EIO);
        assertThat(device.writeLog).isEmpty();
        assertThat(server.faults().log()).extracting(FaultFiring::matched).containsExactly("region 0 write 0x40+4");
        try (TestPeer.Msg m = c.call(Command.REGION_WRITE_MULTI, multi)) {
            assertThat(RegionWriteMultiReply.decode(m.seg()).wrCnt()).as("the rule is spent").isEqualTo(2);
        }
        assertThat(device.writeLog).containsExactly("0x10:1", "0x40:4");
    }

    @Test
    void aWriteMultipleEntryThatAFaultDropsIsSkippedAndTheRestAreWritten() throws Exception {
        start();
        TestPeer c = client();
        server.faults().add(FaultRule.on("removed", new FaultMatch.RegionAccess(BAR0, 0x40, 0x44, FaultMatch.Direction.ANY),
                new FaultAction.AllOnes()));
        RegionWriteMulti multi = new RegionWriteMulti(List.of(
                new RegionWriteMulti.Entry(0x10, BAR0, new byte[] {1}),
                new RegionWriteMulti.Entry(0x40, BAR0, DATA),
                new RegionWriteMulti.Entry(0x20, BAR0, new byte[] {2, 2})));

        try (TestPeer.Msg m = c.call(Command.REGION_WRITE_MULTI, multi)) {
            assertThat(RegionWriteMultiReply.decode(m.seg()).wrCnt()).isEqualTo(3);
        }
        assertThat(device.writeLog).containsExactly("0x10:1", "0x20:2");
    }
}
