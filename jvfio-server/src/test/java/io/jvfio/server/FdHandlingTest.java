package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * fds a message carries that its command does not take are refused and closed at once. The base
 * class's leak check sees every fd the server kept; each test also checks right after the refusal.
 */
class FdHandlingTest extends ServerTestBase {

    private List<Fd> eventfds(int n) throws Exception {
        List<Fd> fds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            fds.add(closeLater(EventFd.create()).fd());
        }
        return fds;
    }

    /** The fds open in this process now, after our own copies are closed. */
    private int fdsWithout(List<Fd> ours) {
        ours.forEach(Fd::close);
        return Fd.openFdCountOfProcess();
    }

    @Test
    void fdsWithARegionReadAreRefusedAndClosed() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = eventfds(2);
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(7, 0, 4), fds)).isEqualTo(Errno.EINVAL);
        assertThat(fdsWithout(fds)).as("the server closed the fds it received").isEqualTo(baseline);
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void setIrqsWithFewerFdsThanCountIsRefusedAndAllClosed() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = eventfds(2);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, TestPeer.bytes(
                IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 3)), fds)).isEqualTo(Errno.EINVAL);
        assertThat(fdsWithout(fds)).isEqualTo(baseline);
        assertThat(device.interrupts().isWired(Vfio.PCI_MSIX_IRQ_INDEX, 0)).isFalse();
    }

    @Test
    void setIrqsWithMoreFdsThanCountIsRefusedAndAllClosed() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = eventfds(3);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, TestPeer.bytes(
                IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 2)), fds)).isEqualTo(Errno.EINVAL);
        assertThat(fdsWithout(fds)).isEqualTo(baseline);
    }

    @Test
    void setIrqsWithFdsOutsideTheIndexIsRefusedAndAllClosed() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = eventfds(2);
        assertThat(c.callError(Command.DEVICE_SET_IRQS, TestPeer.bytes(IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX,
                Vfio.IRQ_SET_ACTION_TRIGGER, TestDevice.MSIX_VECTORS - 1, 2)), fds)).isEqualTo(Errno.EINVAL);
        assertThat(fdsWithout(fds)).isEqualTo(baseline);
    }

    @Test
    void dmaMapWithTwoFdsIsRefusedAndBothClosed() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = List.of(Memfd.create("a", 0x1000), Memfd.create("b", 0x1000));
        assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(3, 0, 0, 0x1000)), fds)).isEqualTo(Errno.EINVAL);
        assertThat(fdsWithout(fds)).isEqualTo(baseline);
        assertThat(device.dmaSpace().windows()).isEmpty();
    }

    @Test
    void fdsWithAnUnknownCommandOrAReplyAreClosed() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = eventfds(1);
        assertThat(c.callError(Command.DEVICE_RESET, new byte[0], fds)).isNotZero().isNotEqualTo(-1);
        c.sendRaw(TestPeer.message(0x4242, Command.DMA_READ.code(), 1, 0, new byte[0]), fds); // a stray reply
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
        assertThat(fdsWithout(fds)).isEqualTo(baseline);
    }

    @Test
    void fdsBeforeVersionAreClosed() throws Exception {
        start();
        TestPeer c = connect();
        c.callError(Command.DEVICE_RESET, new byte[0], List.of()); // the server has accepted: its end is counted
        int baseline = Fd.openFdCountOfProcess();
        List<Fd> fds = List.of(Memfd.create("early", 0x1000));
        assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(3, 0, 0, 0x1000)), fds)).isEqualTo(Errno.EINVAL);
        assertThat(fdsWithout(fds)).isEqualTo(baseline);
    }

    @Test
    void moreFdsThanTheServerAcceptsDisconnectCleanly() throws Exception {
        start();
        TestPeer c = client();
        List<Fd> fds = eventfds(20); // the server accepts 16 per message
        c.send(Command.DEVICE_SET_IRQS.code(), TestPeer.bytes(
                IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 20)), false, fds);
        assertThat(c.serverHungUp()).isTrue();
        fds.forEach(Fd::close);
        // The server serves the next client.
        assertThat(client().read(7, 0, 2)).containsExactly(0x34, 0x12);
    }
}
