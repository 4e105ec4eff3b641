package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DMA windows: mapped from the client's fds, bounds- and permission-checked, gone with the client. */
class DmaTest extends ServerTestBase {
    static final int R = Vfio.DMA_MAP_FLAG_READ, RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    static final long PAGE = 0x1000;

    private Fd memfd;
    private Mapping view;

    /** A client memfd of 4 pages and the test's own view of it. */
    private void clientMemory() throws Exception {
        memfd = closeLater(Memfd.create("client-ram", 4 * PAGE));
        view = closeLater(Mapping.map(memfd, 0, 4 * PAGE, true));
    }

    private static int errno(ThrowingRunnable r) {
        try {
            r.run();
        } catch (VfioException e) {
            return e.errno();
        }
        throw new AssertionError("expected a VfioException");
    }

    interface ThrowingRunnable {
        void run() throws VfioException;
    }

    @Test
    void theDeviceReadsAndWritesClientMemoryThroughAMappedFd() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        // Window at IOVA 0x100000 covering pages 1-2 of the memfd.
        c.call(Command.DMA_MAP, DmaMap.of(RW, PAGE, 0x100000, 2 * PAGE), memfd).close();
        view.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, PAGE + 8, 0x1122334455667788L);

        DmaView dma = device.dmaSpace();
        MemorySegment buf = MemorySegment.ofArray(new byte[8]);
        dma.read(0x100008, buf);
        assertThat(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(0x1122334455667788L);

        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0xCAFEBABEL);
        dma.write(0x100000 + PAGE + 16, buf);
        assertThat(view.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 2 * PAGE + 16)).isEqualTo(0xCAFEBABEL);
        assertThat(dma.windows()).containsExactly(new DmaWindow(0x100000, 2 * PAGE, Access.READ_WRITE, true));
        assertThat(c.hasStashed()).as("mapped windows need no messages").isFalse();
    }

    @Test
    void accessesOutsideTheWindowsFailWithEfault() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, PAGE), memfd).close();
        DmaView dma = device.dmaSpace();
        MemorySegment buf = MemorySegment.ofArray(new byte[16]);
        assertThat(errno(() -> dma.read(0x200000, buf))).isEqualTo(Errno.EFAULT);
        assertThat(errno(() -> dma.read(0x100000 + PAGE - 8, buf))).as("crossing the end").isEqualTo(Errno.EFAULT);
        assertThat(errno(() -> dma.write(0x100000 - 8, buf))).as("starting before").isEqualTo(Errno.EFAULT);
        assertThat(errno(() -> dma.read(-8, buf))).as("wrapping").isEqualTo(Errno.EFAULT);
    }

    @Test
    void adjacentWindowsFormOneRange() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, PAGE), memfd).close();
        c.call(Command.DMA_MAP, DmaMap.of(RW, PAGE, 0x100000 + PAGE, PAGE), memfd).close();
        byte[] data = new byte[32];
        for (int i = 0; i < 32; i++) {
            data[i] = (byte) (i + 1);
        }
        device.dmaSpace().write(0x100000 + PAGE - 16, MemorySegment.ofArray(data));
        assertThat(view.segment().asSlice(PAGE - 16, 32).toArray(ValueLayout.JAVA_BYTE)).containsExactly(data);
    }

    @Test
    void writingAReadOnlyWindowFailsWithEperm() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(R, 0, 0x100000, PAGE), memfd).close();
        DmaView dma = device.dmaSpace();
        assertThat(errno(() -> dma.write(0x100000, MemorySegment.ofArray(new byte[4])))).isEqualTo(Errno.EPERM);
        assertThat(view.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0)).isZero();
        dma.read(0x100000, MemorySegment.ofArray(new byte[4]));
    }

    @Test
    void anOverlappingMapFailsWithEexist() throws Exception {
        start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, 2 * PAGE)).close();
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000 + PAGE, 2 * PAGE))).isEqualTo(Errno.EEXIST);
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000 - PAGE, 2 * PAGE))).isEqualTo(Errno.EEXIST);
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, PAGE))).isEqualTo(Errno.EEXIST);
        assertThat(device.dmaSpace().windows()).hasSize(1);
    }

    @Test
    void anOverlappingMapWithAnFdClosesThatFd() throws Exception {
        start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, 2 * PAGE)).close();
        int baseline = Fd.openFdCountOfProcess();
        Fd fd = Memfd.create("overlap", PAGE);
        assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, 0, 0x100000, PAGE)), List.of(fd)))
                .isEqualTo(Errno.EEXIST);
        fd.close();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    @Test
    void unmappingPartOfAWindowFailsWithEinval() throws Exception {
        // A range with no window in it succeeds, as with the kernel's type1 (DmaUnmapTest).
        start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, 2 * PAGE)).close();
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x100000, PAGE))).as("part of a window").isEqualTo(Errno.EINVAL);
        try (TestPeer.Msg reply = c.call(Command.DMA_UNMAP, DmaUnmap.of(0x100000, 2 * PAGE))) {
            assertThat(reply.payload()).as("the reply echoes the request").containsExactly(TestPeer.bytes(DmaUnmap.of(0x100000, 2 * PAGE)));
        }
        assertThat(device.dmaSpace().windows()).isEmpty();
    }

    @Test
    void unmapAllRemovesEveryWindowAndClosesTheirFds() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        for (int i = 0; i < 4; i++) {
            c.call(Command.DMA_MAP, DmaMap.of(RW, i * PAGE, 0x100000 + i * 0x10000, PAGE), memfd).close();
        }
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x900000, PAGE)).close();
        assertThat(device.dmaSpace().windows()).hasSize(5);
        c.call(Command.DMA_UNMAP, DmaUnmap.all()).close();
        assertThat(device.dmaSpace().windows()).isEmpty();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    @Test
    void windowsAreGoneAfterTheClientDisconnects() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, 4 * PAGE), memfd).close();
        DmaView first = device.dmaSpace();
        c.close();
        TestPeer next = client();
        assertThat(first.windows()).as("the old client's windows").isEmpty();
        assertThat(device.dmaSpace().windows()).as("the new client's space").isEmpty();
        assertThat(errno(() -> first.read(0x100000, MemorySegment.ofArray(new byte[4])))).isIn(Errno.EFAULT, Errno.ENODEV);
        next.close();
    }

    @Test
    void aSegmentOfAnUnmappedWindowCannotBeUsed() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, PAGE), memfd).close();
        MemorySegment direct = device.dmaSpace().segment(0x100000, 16, true).orElseThrow();
        c.call(Command.DMA_UNMAP, DmaUnmap.of(0x100000, PAGE)).close();
        assertThatThrownBy(() -> direct.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void fileIoAccessModeIsRefused() throws Exception {
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        Fd fd = Memfd.create("fileio", PAGE);
        assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW | Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO, 0, 0, PAGE)),
                List.of(fd))).isEqualTo(Errno.ENOTSUP);
        fd.close();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    @Test
    void aWindowAcrossTheSignBitOfTheAddressWorks() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        long iova = 0x8000_0000_0000_0000L - PAGE;
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, iova, 2 * PAGE), memfd).close();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x1000, PAGE)).close();
        MemorySegment buf = MemorySegment.ofArray(new byte[16]);
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 42);
        device.dmaSpace().write(iova + PAGE - 8, buf);
        assertThat(view.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, PAGE - 8)).isEqualTo(42);
        assertThat(c.callError(Command.DMA_MAP, DmaMap.of(RW, 0, iova + PAGE, PAGE))).isEqualTo(Errno.EEXIST);
    }

    @Test
    void aWindowAtTheTopOfTheAddressSpaceWorks() throws Exception {
        start();
        clientMemory();
        TestPeer c = client();
        long iova = -PAGE; // [2^64 - 4096, 2^64)
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, iova, PAGE), memfd).close();
        MemorySegment buf = MemorySegment.ofArray(new byte[8]);
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 7);
        device.dmaSpace().write(-8, buf);
        assertThat(view.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, PAGE - 8)).isEqualTo(7);
        assertThat(errno(() -> device.dmaSpace().read(-8, MemorySegment.ofArray(new byte[16])))).isEqualTo(Errno.EFAULT);
    }

    @Test
    void aWindowLargerThanItsFileIsRefused() throws Exception {
        // Touching a mapping beyond the end of its file raises SIGBUS: such a window must never exist.
        start();
        TestPeer c = client();
        int baseline = Fd.openFdCountOfProcess();
        Fd small = Memfd.create("small", PAGE);
        assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, 0, 0x100000, 2 * PAGE)), List.of(small)))
                .isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_MAP, TestPeer.bytes(DmaMap.of(RW, PAGE, 0x100000, PAGE)), List.of(small)))
                .as("offset at the end of the file").isEqualTo(Errno.EINVAL);
        small.close();
        assertThat(device.dmaSpace().windows()).isEmpty();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }
}
