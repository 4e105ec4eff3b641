package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.pci.PciCapabilityIds;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** SET_IRQS: eventfds per vector, BOOL triggers, masking, de-assignment, INTx level semantics. */
class InterruptsTest extends ServerTestBase {
    static final int INTX = Vfio.PCI_INTX_IRQ_INDEX, MSI = Vfio.PCI_MSI_IRQ_INDEX, MSIX = Vfio.PCI_MSIX_IRQ_INDEX,
            ERR = Vfio.PCI_ERR_IRQ_INDEX, REQ = Vfio.PCI_REQ_IRQ_INDEX;
    static final int TRIGGER = Vfio.IRQ_SET_ACTION_TRIGGER, MASK = Vfio.IRQ_SET_ACTION_MASK, UNMASK = Vfio.IRQ_SET_ACTION_UNMASK;

    private List<EventFd> eventfds(int n) throws Exception {
        List<EventFd> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(closeLater(EventFd.create()));
        }
        return list;
    }

    private static Fd[] fds(List<EventFd> events) {
        return events.stream().map(EventFd::fd).toArray(Fd[]::new);
    }

    /** Whether {@code e} fired; consumes its count. No wait: the server signals before it returns. */
    private static long fired(EventFd e) throws Exception {
        return e.await(Duration.ZERO) ? e.read() : 0;
    }

    private static void wire(TestPeer c, int index, int start, List<EventFd> events) throws Exception {
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(index, TRIGGER, start, events.size()), fds(events)).close();
    }

    @Test
    void irqInfoReportsTheVectors() throws Exception {
        start();
        TestPeer c = client();
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(MSIX))) {
            IrqInfo info = IrqInfo.decode(m.seg());
            assertThat(info.count()).isEqualTo(TestDevice.MSIX_VECTORS);
            assertThat(info.flags() & Vfio.IRQ_INFO_EVENTFD).isNotZero();
        }
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(MSI))) {
            assertThat(IrqInfo.decode(m.seg()).count()).isEqualTo(TestDevice.MSI_VECTORS);
        }
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(INTX))) {
            assertThat(IrqInfo.decode(m.seg()).flags() & Vfio.IRQ_INFO_AUTOMASKED).isNotZero();
        }
        assertThat(c.callError(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(5))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void msixVectorsSignalTheirOwnEventfd() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(3);
        wire(c, MSIX, 2, e); // vectors 2, 3, 4
        device.interrupts().trigger(MSIX, 3);
        assertThat(fired(e.get(1))).isEqualTo(1);
        assertThat(fired(e.get(0))).isZero();
        assertThat(fired(e.get(2))).isZero();
        // Through the PCI core: raise() uses MSI-X once the guest enabled it.
        int msix = device.config().capability(PciCapabilityIds.MSIX).orElseThrow().offset();
        c.write(Vfio.PCI_CONFIG_REGION_INDEX, msix + 3, new byte[] {(byte) 0x80});
        device.raiseVector(4);
        assertThat(fired(e.get(2))).isEqualTo(1);
    }

    @Test
    void msiVectorsSignalTheirEventfd() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(TestDevice.MSI_VECTORS);
        wire(c, MSI, 0, e);
        device.interrupts().trigger(MSI, 2);
        assertThat(fired(e.get(2))).isEqualTo(1);
        assertThat(fired(e.get(0))).isZero();
    }

    @Test
    void dataBoolTriggersTheSelectedVectors() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(4);
        wire(c, MSIX, 0, e);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.bools(MSIX, TRIGGER, 0, new byte[] {1, 0, 1, 0})).close();
        assertThat(fired(e.get(0))).isEqualTo(1);
        assertThat(fired(e.get(1))).isZero();
        assertThat(fired(e.get(2))).isEqualTo(1);
        assertThat(fired(e.get(3))).isZero();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, 3, 1)).close();
        assertThat(fired(e.get(3))).isEqualTo(1);
    }

    @Test
    void aMaskedVectorFiresWhenUnmaskedIfItWasRaised() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(2);
        wire(c, MSIX, 0, e);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, MASK, 0, 2)).close();
        device.interrupts().trigger(MSIX, 0);
        assertThat(fired(e.get(0))).as("masked").isZero();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, UNMASK, 0, 2)).close();
        assertThat(fired(e.get(0))).as("pending, delivered on unmask").isEqualTo(1);
        assertThat(fired(e.get(1))).as("nothing pending").isZero();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, UNMASK, 0, 1)).close();
        assertThat(fired(e.get(0))).as("delivered once only").isZero();
    }

    @Test
    void dataEventfdWithoutFdsDeassignsAndClosesThem() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(2);
        int before = Fd.openFdCountOfProcess();
        wire(c, MSIX, 0, e);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(before + 2);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(MSIX, TRIGGER, 0, 2)).close();
        assertThat(Fd.openFdCountOfProcess()).as("the server's copies are closed").isEqualTo(before);
        assertThat(device.interrupts().isWired(MSIX, 0)).isFalse();
        device.interrupts().trigger(MSIX, 0);
        assertThat(fired(e.get(0))).isZero();
    }

    @Test
    void rewiringAVectorClosesTheOldEventfd() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> first = eventfds(1);
        List<EventFd> second = eventfds(1);
        int before = Fd.openFdCountOfProcess();
        wire(c, MSIX, 0, first);
        wire(c, MSIX, 0, second);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(before + 1);
        device.interrupts().trigger(MSIX, 0);
        assertThat(fired(second.getFirst())).isEqualTo(1);
        assertThat(fired(first.getFirst())).isZero();
    }

    @Test
    void disableAllDropsEveryEventfdOfTheIndex() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(TestDevice.MSIX_VECTORS);
        int before = Fd.openFdCountOfProcess();
        wire(c, MSIX, 0, e);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, 0, 0)).close();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(before);
        for (int v = 0; v < TestDevice.MSIX_VECTORS; v++) {
            assertThat(device.interrupts().isWired(MSIX, v)).isFalse();
        }
    }

    @Test
    void errAndReqTakeOnlyTriggerAndOneVector() throws Exception {
        start();
        TestPeer c = client();
        for (int index : new int[] {ERR, REQ}) {
            List<EventFd> one = eventfds(1);
            wire(c, index, 0, one);
            device.interrupts().trigger(index, 0);
            assertThat(fired(one.getFirst())).isEqualTo(1);
            assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(index, MASK, 0, 1))).isEqualTo(Errno.EINVAL);
            assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(index, UNMASK, 0, 1))).isEqualTo(Errno.EINVAL);
            List<EventFd> two = eventfds(2);
            assertThat(c.callError(Command.DEVICE_SET_IRQS, TestPeer.bytes(IrqSet.eventfds(index, TRIGGER, 0, 2)),
                    List.of(fds(two)))).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void outOfRangeStartOrCountIsRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, TestDevice.MSIX_VECTORS, 1))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, 0, TestDevice.MSIX_VECTORS + 1))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, 0x7fff_ffff, 1))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, 0x8000_0000, 1))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(MSIX, TRIGGER, 1, 0))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(7, TRIGGER, 0, 1))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, IrqSet.none(-1, TRIGGER, 0, 1))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void intxFiresOnceAutomasksAndRefiresOnUnmaskWhileAsserted() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(1);
        wire(c, INTX, 0, e);
        device.intx(true);
        assertThat(fired(e.getFirst())).isEqualTo(1);
        device.intx(false);
        device.intx(true);
        assertThat(fired(e.getFirst())).as("automasked until the client unmasks").isZero();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(INTX, UNMASK, 0, 1)).close();
        assertThat(fired(e.getFirst())).as("still asserted: fires again").isEqualTo(1);
        device.intx(false);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(INTX, UNMASK, 0, 1)).close();
        assertThat(fired(e.getFirst())).as("deasserted: nothing").isZero();
        device.intx(true);
        assertThat(fired(e.getFirst())).isEqualTo(1);
    }

    @Test
    void anIntxPulseWhileMaskedIsDeliveredAtUnmask() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(1);
        wire(c, INTX, 0, e);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(INTX, MASK, 0, 1)).close();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(INTX, TRIGGER, 0, 1)).close();  // a client-requested pulse
        assertThat(fired(e.getFirst())).as("masked: held back").isZero();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(INTX, UNMASK, 0, 1)).close();
        assertThat(fired(e.getFirst())).as("delivered at unmask although the line is low").isEqualTo(1);
    }

    @Test
    void tenThousandIntxUnmasksLeaveTheLineConsistent() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> e = eventfds(1);
        wire(c, INTX, 0, e);
        // Deasserted line: unmasks change nothing and fire nothing.
        for (int i = 0; i < 10_000; i++) {
            c.send(Command.DEVICE_SET_IRQS.code(), TestPeer.bytes(IrqSet.none(INTX, UNMASK, 0, 1)), true, List.of());
        }
        assertThat(c.read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2)).containsExactly(0x34, 0x12); // all processed
        assertThat(fired(e.getFirst())).isZero();
        assertThat(device.interrupts().intxAsserted()).isFalse();
        // Asserted line: each unmask is an EOI that finds the line still high and fires once more.
        device.intx(true);
        for (int i = 0; i < 10_000; i++) {
            c.send(Command.DEVICE_SET_IRQS.code(), TestPeer.bytes(IrqSet.none(INTX, UNMASK, 0, 1)), true, List.of());
        }
        c.read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2);
        assertThat(fired(e.getFirst())).isEqualTo(10_001);
        device.intx(false);
        c.call(Command.DEVICE_SET_IRQS, IrqSet.none(INTX, UNMASK, 0, 1)).close();
        device.intx(true);
        assertThat(fired(e.getFirst())).as("the line works normally afterwards").isEqualTo(1);
        assertThat(device.interrupts().intxAsserted()).isTrue();
    }

    @Test
    void unmaskWithAResampleEventfdIsAcceptedAndTheFdNotKept() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> trigger = eventfds(1);
        List<EventFd> resample = eventfds(1);
        wire(c, INTX, 0, trigger);
        int before = Fd.openFdCountOfProcess();
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(INTX, UNMASK, 0, 1), fds(resample)).close();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(before);
    }
}
