package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The bad-input classes the conformance tests (FramingTest, FdHandlingTest, DmaTest, RegionTest,
 * InterruptsTest) did not yet cover, one test per class: each is answered with its errno and the
 * session goes on (or, where the stream cannot be framed, a clean disconnect and the next client is
 * served). The fd check of {@link ServerTestBase} proves every refused fd closed.
 */
class MalformedInputTest extends ServerTestBase {
    private static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    private static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;

    private static void stillServes(TestPeer c) throws Exception {
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void regionOffsetsThatOverflowWhenTheCountIsAddedAreRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(CONFIG, -2, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(0, Long.MAX_VALUE, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_WRITE, TestPeer.regionWrite(0, -1, new byte[] {1, 2}), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_WRITE, TestPeer.regionWrite(TestDevice.VENDOR_REGION, Long.MIN_VALUE, new byte[] {1}), List.of()))
                .isEqualTo(Errno.EINVAL);
        stillServes(c);
    }

    @Test
    void regionCountsNearTwoToTheThirtyTwoAreRefusedWithoutAllocating() throws Exception {
        start();
        TestPeer c = client();
        byte[] p = TestPeer.regionRead(CONFIG, 0, 0);
        MemorySegment.ofArray(p).set(ValueLayout.JAVA_INT_UNALIGNED, RegionAccess.OFF_COUNT, 0xffff_fff0);
        assertThat(c.callError(Command.REGION_READ, p, List.of())).isIn(Errno.EINVAL, Errno.E2BIG);
        stillServes(c);
    }

    @Test
    void dmaWindowsThatWrapTheAddressSpaceOrTheirFileAreRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, -0x1000, 0x2000))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, 0x1000, 0))).isEqualTo(Errno.EINVAL);
        try (Fd memory = Memfd.create("wrap", 0x2000)) {
            assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, -0x1000, 0x10000, 0x2000)), List.of(memory)))
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, 0x1000, 0x10000, 0x2000)), List.of(memory)))
                    .as("a window reaching past the end of its file").isEqualTo(Errno.EINVAL);
        }
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(-0x1000, 0x2000))).isEqualTo(Errno.EINVAL);
        stillServes(c);
    }

    @Test
    void aDmaWindowAtAnUnalignedFileOffsetReachesExactlyThoseBytes() throws Exception {
        start();
        TestPeer c = client();
        try (Fd memory = Memfd.create("unaligned", 0x3000)) {
            Linux.pwrite(memory, MemorySegment.ofArray(new byte[] {1, 2, 3, 4}), 0x10);
            c.call(Command.DMA_MAP, DmaMap.of(RW, 0x10, 0x10001, 0xfff), memory).close();
        }
        byte[] got = new byte[4];
        device.dmaSpace().read(0x10001, MemorySegment.ofArray(got));
        assertThat(got).containsExactly(1, 2, 3, 4);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x10001, 0x1000))).as("unmap must match the window").isEqualTo(Errno.EINVAL);
        c.call(Command.DMA_UNMAP, DmaUnmap.of(0x10001, 0xfff)).close();
        stillServes(c);
    }

    @Test
    void aDmaWindowOnAnFdThatIsNoFileIsRefusedWithAnErrno() throws Exception {
        start();
        TestPeer c = client();
        try (EventFd e = EventFd.create()) {
            assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, 0, 0x10000, 0x1000)), List.of(e.fd())))
                    .isNotEqualTo(Errno.EIO).isNotZero();
        }
        stillServes(c);
    }

    @Test
    void aNegativeFileOffsetOnAnFdWithoutSizeIsRefusedWithEinval() throws Exception {
        start();
        TestPeer c = client();
        try (EventFd e = EventFd.create()) {
            // a negative file offset on an fd that has no size to check it against
            assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, -0x1000, 0x10000, 0x1000)), List.of(e.fd())))
                    .as("EINVAL, not EIO from an IllegalArgumentException").isEqualTo(Errno.EINVAL);
        }
        stillServes(c);
    }

    @Test
    void moreDmaWindowsThanTheLimitAreRefusedWithEnospc() throws Exception {
        ServerOptions d = ServerOptions.defaults();
        start(new ServerOptions(d.socketMode(), d.maxDataXferSize(), d.maxMsgFds(), 4, d.dmaReplyTimeout(), d.hypervisorLink()));
        TestPeer c = client();
        for (int i = 0; i < 4; i++) {
            c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000L * (i + 1), 0x1000)).close();
        }
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000L * 9, 0x1000))).isEqualTo(Errno.ENOSPC);
        try (Fd memory = Memfd.create("fifth", 0x1000)) {
            assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, 0, 0x100000L * 10, 0x1000)), List.of(memory)))
                    .isEqualTo(Errno.ENOSPC);
        }
        stillServes(c);
    }

    @Test
    void irqInfoForAnIndexTheDeviceDoesNotHaveIsRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(Vfio.PCI_NUM_IRQS))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(-1))).isEqualTo(Errno.EINVAL);
        stillServes(c);
    }

    @Test
    void setIrqsWhoseStartPlusCountOverflowsIsRefusedAndItsFdsClosed() throws Exception {
        start();
        TestPeer c = client();
        try (EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            assertThat(c.callError(Command.DEVICE_SET_IRQS,
                    TestPeer.bytes(IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, -1, 2)), List.of(a.fd(), b.fd())))
                    .isEqualTo(Errno.EINVAL);
        }
        stillServes(c);
    }

    @Test
    void infoRequestsOfferingFourGigabytesGetAnswersOfTheirTrueSize() throws Exception {
        start();
        TestPeer c = client();
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_INFO, DeviceInfo.request(-1))) {
            assertThat(m.payload().length).isLessThan(4096);
        }
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(-1, TestDevice.VENDOR_REGION))) {
            assertThat(m.payload().length).isLessThan(4096);
        }
        stillServes(c);
    }

    @Test
    void aReusedMessageIdIsAnsweredAgainInOrder() throws Exception {
        start();
        TestPeer c = client();
        byte[] read = TestPeer.message(0x77, Command.REGION_READ.code(), 0, 0, TestPeer.regionRead(CONFIG, 0, 2));
        byte[] bad = TestPeer.message(0x77, Command.REGION_READ.code(), 0, 0, TestPeer.regionRead(99, 0, 2));
        c.sendRaw(read);
        c.sendRaw(bad);
        c.sendRaw(read);
        try (TestPeer.Msg first = c.replyTo(0x77); TestPeer.Msg second = c.replyTo(0x77); TestPeer.Msg third = c.replyTo(0x77)) {
            assertThat(first.isError()).isFalse();
            assertThat(second.isError()).isTrue();
            assertThat(second.error()).isEqualTo(Errno.EINVAL);
            assertThat(third.isError()).isFalse();
        }
        stillServes(c);
    }

    @Test
    void anFdFloodOnCommandsThatTakeNoneIsRefusedMessageByMessageAndEveryFdClosed() throws Exception {
        start();
        TestPeer c = client();
        int messages = 200, perMessage = ServerOptions.defaults().maxMsgFds();
        List<EventFd> fds = new ArrayList<>();
        try {
            for (int i = 0; i < perMessage; i++) {
                fds.add(EventFd.create());
            }
            List<Fd> raw = fds.stream().map(EventFd::fd).toList();
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < messages; i++) {
                ids.add(c.send(Command.REGION_READ.code(), TestPeer.regionRead(CONFIG, 0, 2), false, raw));
            }
            for (int id : ids) {
                try (TestPeer.Msg m = c.replyTo(id)) {
                    assertThat(m.isError()).isTrue();
                    assertThat(m.error()).isEqualTo(Errno.EINVAL);
                }
            }
        } finally {
            fds.forEach(EventFd::close);
        }
        System.out.printf("RELIABILITY fd_flood messages=%d fds=%d%n", messages, messages * perMessage);
        stillServes(c);
    }

    @Test
    void aClientMessageWithAReplyTypeAndErrorFlagsForAnUnknownRequestIsIgnored() throws Exception {
        start();
        TestPeer c = client();
        c.sendRaw(TestPeer.message(0x4242, Command.DMA_READ.code(), Header.TYPE_REPLY | Header.FLAG_ERROR,
                Errno.EIO, new byte[0]));
        stillServes(c);
    }

    @Test
    void tooManyFdsInOneMessageDisconnectsAndTheNextClientIsServed() throws Exception {
        start();
        TestPeer c = client();
        List<EventFd> fds = new ArrayList<>();
        try {
            for (int i = 0; i < 64; i++) {
                fds.add(EventFd.create());
            }
            try {
                c.send(Command.DEVICE_SET_IRQS.code(),
                        TestPeer.bytes(IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 64)), false,
                        fds.stream().map(EventFd::fd).toList());
            } catch (LinuxException serverGone) {
                // fine
            }
            assertThat(c.serverHungUp()).isTrue();
        } finally {
            fds.forEach(EventFd::close);
        }
        stillServes(client());
    }
}
