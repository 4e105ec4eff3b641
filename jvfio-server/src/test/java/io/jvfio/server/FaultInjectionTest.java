package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.Faults;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Faults injected from Java into a served device, seen by a client over the socket: region
 * accesses that fail, read all ones, wait, hang up or raise an interrupt; interrupts dropped or repeated. The base class checks
 * that no fd outlives a test.
 */
class FaultInjectionTest extends ServerTestBase {
    private static final int BAR0 = Vfio.PCI_BAR0_REGION_INDEX, MSIX = Vfio.PCI_MSIX_IRQ_INDEX;
    private static final byte[] DATA = {1, 2, 3, 4};

    private static FaultMatch bar0(long from, long to, FaultMatch.Direction direction) {
        return new FaultMatch.RegionAccess(BAR0, from, to, direction);
    }

    private static int readError(TestPeer c, long offset) throws Exception {
        return c.callError(Command.REGION_READ, TestPeer.regionRead(BAR0, offset, 4), List.of());
    }

    private static long fired(EventFd e) throws Exception {
        return e.await(Duration.ZERO) ? e.read() : 0;
    }

    private static List<Integer> failingReads(TestPeer c, long offset, int n) throws Exception {
        List<Integer> failed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            try (TestPeer.Msg m = c.replyTo(c.send(Command.REGION_READ, TestPeer.regionRead(BAR0, offset, 4)))) {
                if (m.error() != 0) {
                    assertThat(m.error()).isEqualTo(Errno.EIO);
                    failed.add(i);
                }
            }
        }
        return failed;
    }

    private EventFd wireMsixVector(TestPeer c, int vector) throws Exception {
        EventFd e = closeLater(EventFd.create());
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(MSIX, Vfio.IRQ_SET_ACTION_TRIGGER, vector, 1), e.fd()).close();
        return e;
    }

    @Test
    void withoutRulesTheDeviceIsServedAsBefore() throws Exception {
        start();
        TestPeer c = client();
        EventFd e = wireMsixVector(c, 3);
        c.write(BAR0, 0x10, DATA);
        assertThat(c.read(BAR0, 0x10, 4)).containsExactly(DATA);
        device.interrupts().trigger(MSIX, 3);
        assertThat(fired(e)).isEqualTo(1);
        assertThat(server.faults().log()).isEmpty();
        assertThat(server.faults().firedTotal()).isZero();
    }

    @Test
    void aFailedAccessIsAnsweredWithTheErrnoAndNeverReachesTheDevice() throws Exception {
        start();
        TestPeer c = client();
        c.write(BAR0, 0x10, DATA);
        server.faults().add(FaultRule.on("eio", bar0(0x10, 0x14, FaultMatch.Direction.ANY),
                new FaultAction.FailAccess(Errno.EIO)).times(3));
        int logged = device.writeLog.size();

        assertThat(readError(c, 0x10)).isEqualTo(Errno.EIO);
        assertThat(c.callError(Command.REGION_WRITE, TestPeer.regionWrite(BAR0, 0x12, new byte[] {9, 9}), List.of()))
                .isEqualTo(Errno.EIO);
        assertThat(device.writeLog).hasSize(logged);
        assertThat(c.read(BAR0, 0x20, 4)).as("outside the range").containsExactly(0, 0, 0, 0);
        assertThat(readError(c, 0x10)).isEqualTo(Errno.EIO);
        assertThat(c.read(BAR0, 0x10, 4)).as("the rule fired 3 times and retired").containsExactly(DATA);

        assertThat(server.faults().rules()).isEmpty();
        assertThat(server.faults().log()).extracting(FaultFiring::matched)
                .containsExactly("region 0 read 0x10+4", "region 0 write 0x12+2", "region 0 read 0x10+4");
    }

    @Test
    void afterASurpriseRemovalReadsAreAllOnesAndWritesAreLost() throws Exception {
        start();
        TestPeer c = client();
        c.write(BAR0, 0, DATA);
        server.faults().add(FaultRule.on("removed", FaultMatch.RegionAccess.anyOf(BAR0), new FaultAction.AllOnes()));
        int logged = device.writeLog.size();

        assertThat(c.read(BAR0, 0, 4)).containsOnly((byte) 0xff);
        c.write(BAR0, 0, new byte[] {7, 7, 7, 7});
        assertThat(device.writeLog).as("the device saw no write").hasSize(logged);
        assertThat(c.read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2)).as("config space is another region").containsExactly(0x34, 0x12);

        server.faults().clear();
        assertThat(c.read(BAR0, 0, 4)).as("back: the lost write left the device as it was").containsExactly(DATA);
    }

    @Test
    void aDroppedConnectionEndsTheSessionAndTheNextClientIsServed() throws Exception {
        start();
        TestPeer c = client();
        server.faults().add(FaultRule.on("hang-up", bar0(0x100, 0x104, FaultMatch.Direction.READ),
                new FaultAction.DropConnection()).times(1));
        c.send(Command.REGION_READ, TestPeer.regionRead(BAR0, 0x100, 4));
        assertThat(c.serverHungUp()).isTrue();
        assertThat(server.faults().log()).extracting(FaultFiring::ruleId).containsExactly("hang-up");

        TestPeer next = client();
        assertThat(next.read(BAR0, 0x100, 4)).as("the rule is spent").containsExactly(0, 0, 0, 0);
    }

    @Test
    void aDelayedAccessStillReachesTheDevice() throws Exception {
        start();
        TestPeer c = client();
        Duration delay = Duration.ofMillis(50);
        server.faults().add(FaultRule.on("slow", bar0(0, 0x1000, FaultMatch.Direction.WRITE), new FaultAction.Delay(delay)));
        long begun = System.nanoTime();
        c.write(BAR0, 0x40, DATA);
        // A lower bound only (the server slept at least this long), so it cannot flake.
        assertThat(Duration.ofNanos(System.nanoTime() - begun)).isGreaterThanOrEqualTo(delay);
        assertThat(c.read(BAR0, 0x40, 4)).containsExactly(DATA);
        assertThat(server.faults().log()).extracting(FaultFiring::ruleId).containsExactly("slow");
    }

    @Test
    void everyNthAndSeededFaultsRepeatExactlyOverTheWire() throws Exception {
        start();
        TestPeer c = client();
        Faults faults = server.faults();
        faults.add(FaultRule.on("third", bar0(0, 0x10, FaultMatch.Direction.READ), new FaultAction.FailAccess(Errno.EIO))
                .everyNth(3));
        assertThat(failingReads(c, 0, 9)).containsExactly(2, 5, 8);
        faults.clear();

        List<List<Integer>> runs = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
            faults.add(FaultRule.on("coin", bar0(0, 0x10, FaultMatch.Direction.READ),
                    new FaultAction.FailAccess(Errno.EIO)).withProbability(0.3, 7));
            runs.add(failingReads(c, 0, 40));
            faults.clear();
        }
        assertThat(runs.get(1)).isEqualTo(runs.get(0)).isNotEmpty();
        assertThat(runs.get(0).size()).isLessThan(40);
    }

    @Test
    void anAccessCanRaiseTheErrAndReqInterrupts() throws Exception {
        start();
        TestPeer c = client();
        EventFd err = closeLater(EventFd.create());
        EventFd req = closeLater(EventFd.create());
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_ERR_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1), err.fd()).close();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_REQ_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1), req.fd()).close();
        server.faults().add(FaultRule.on("aer", bar0(0x80, 0x84, FaultMatch.Direction.WRITE),
                new FaultAction.RaiseInterrupt(Vfio.PCI_ERR_IRQ_INDEX, 0)).times(1));
        server.faults().add(FaultRule.on("unplug", bar0(0x90, 0x94, FaultMatch.Direction.READ),
                new FaultAction.RaiseInterrupt(Vfio.PCI_REQ_IRQ_INDEX, 0)).times(1));

        c.write(BAR0, 0x80, DATA);
        assertThat(fired(err)).isEqualTo(1);
        assertThat(fired(req)).isZero();
        assertThat(c.read(BAR0, 0x80, 4)).as("the write reached the device").containsExactly(DATA);
        c.read(BAR0, 0x90, 4);
        assertThat(fired(req)).isEqualTo(1);
        c.write(BAR0, 0x80, DATA);
        assertThat(fired(err)).as("spent").isZero();
        assertThat(server.faults().log()).extracting(FaultFiring::ruleId).containsExactly("aer", "unplug");
    }

    @Test
    void aDroppedInterruptNeverArrivesAndTheNextOneDoes() throws Exception {
        start();
        TestPeer c = client();
        EventFd three = wireMsixVector(c, 3);
        EventFd four = wireMsixVector(c, 4);
        server.faults().add(FaultRule.on("lost", new FaultMatch.Interrupt(MSIX, 3), new FaultAction.DropInterrupt()).times(1));

        device.interrupts().trigger(MSIX, 4);
        assertThat(fired(four)).as("another vector").isEqualTo(1);
        device.interrupts().trigger(MSIX, 3);
        assertThat(fired(three)).isZero();
        device.interrupts().trigger(MSIX, 3);
        assertThat(fired(three)).isEqualTo(1);
        assertThat(server.faults().log()).extracting(FaultFiring::matched).containsExactly("irq 2/3");
    }

    @Test
    void aRepeatedInterruptArrivesAgain() throws Exception {
        start();
        TestPeer c = client();
        EventFd e = wireMsixVector(c, 1);
        server.faults().add(FaultRule.on("echo", new FaultMatch.Interrupt(MSIX, FaultMatch.ANY_VECTOR),
                new FaultAction.RepeatInterrupt(2)).everyNth(2));
        device.interrupts().trigger(MSIX, 1);
        assertThat(fired(e)).isEqualTo(1);
        device.interrupts().trigger(MSIX, 1);
        assertThat(fired(e)).as("signalled three times: the eventfd adds them up").isEqualTo(3);
    }

    @Test
    void aMaskedVectorCountsItsDeliveryOnlyWhenUnmasked() throws Exception {
        start();
        TestPeer c = client();
        EventFd e = wireMsixVector(c, 0);
        server.faults().add(FaultRule.on("lost", new FaultMatch.Interrupt(MSIX, 0), new FaultAction.DropInterrupt()).times(1));
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, Vfio.IRQ_SET_ACTION_MASK, 0, 1)).close();
        device.interrupts().trigger(MSIX, 0);
        assertThat(server.faults().log()).as("held pending, not delivered yet").isEmpty();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, Vfio.IRQ_SET_ACTION_UNMASK, 0, 1)).close();
        assertThat(fired(e)).as("the pending interrupt was dropped on delivery").isZero();
        assertThat(server.faults().log()).hasSize(1);
    }
}
