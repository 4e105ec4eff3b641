package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Bitmap;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * DMA_UNMAP of a range, as the kernel's type1v2 takes it where vfio-user asks for one window's
 * exact range: a page-aligned range may cover no window or several (each removed and unmapped from
 * this process), but one that cuts a window is refused with EINVAL and removes nothing. The fd of a
 * DMA_MAP is closed once mapped, so the fd count stays where it was throughout.
 */
class DmaUnmapTest extends ServerTestBase {
    static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    static final long PAGE = 0x1000;

    private Fd memfd;
    private int baseline;

    /**
     * Starts the server and connects a client that has a memfd of 4 pages; {@code baseline} is then
     * the process's fd count.
     */
    private TestPeer clientWithMemory() throws Exception {
        start();
        TestPeer c = client();
        memfd = closeLater(Memfd.create("client-ram", 4 * PAGE));
        baseline = Fd.openFdCountOfProcess();
        return c;
    }

    private void map(TestPeer c, long fileOffset, long iova, long size) throws Exception {
        c.call(Command.DMA_MAP, DmaMap.of(RW, fileOffset, iova, size), memfd).close();
    }

    /** Unmaps [iova, +size) and checks that the reply echoes the request. */
    private static void unmap(TestPeer c, long iova, long size) throws Exception {
        try (TestPeer.Msg reply = c.call(Command.DMA_UNMAP, DmaUnmap.of(iova, size))) {
            assertThat(reply.payload()).as("the reply echoes the request").containsExactly(TestPeer.bytes(DmaUnmap.of(iova, size)));
        }
    }

    /** How many mappings of the client's memfd this process holds: the server's mapped windows. */
    private static long mappingsOfClientMemory() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("/memfd:client-ram")).count();
    }

    private List<Long> windowStarts() throws VfioException {
        return device.dmaSpace().windows().stream().map(DmaWindow::iova).toList();
    }

    @Test
    void aRangeOverSeveralWholeWindowsRemovesAndUnmapsThem() throws Exception {
        TestPeer c = clientWithMemory();
        map(c, 0, 0x100000, PAGE);
        map(c, PAGE, 0x102000, 2 * PAGE);
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x180000, PAGE)).close(); // reached by message: no fd
        map(c, 3 * PAGE, 0x200000, PAGE);
        MemorySegment first = device.dmaSpace().segment(0x100000, 8, false).orElseThrow();

        unmap(c, 0x100000, 0x100000);

        assertThat(windowStarts()).as("the window past the range stays").containsExactly(0x200000L);
        assertThat(mappingsOfClientMemory()).as("the removed windows' mappings are gone").isEqualTo(1);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
        assertThatThrownBy(() -> first.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aRangeOverNoWindowSucceedsAndRemovesNothing() throws Exception {
        TestPeer c = clientWithMemory();
        map(c, 0, 0x100000, 2 * PAGE);

        unmap(c, 0xfef00000L, 0x100000); // one of QEMU's chunks behind intel-iommu at shutdown
        unmap(c, 0x100000 + 2 * PAGE, PAGE); // right after the window: touching is not cutting
        unmap(c, 0x100000 - PAGE, PAGE); // right before it

        assertThat(windowStarts()).containsExactly(0x100000L);
        assertThat(mappingsOfClientMemory()).isEqualTo(1);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
        device.dmaSpace().read(0x100000, MemorySegment.ofArray(new byte[8])); // still mapped
    }

    @Test
    void aRangeThatCutsAWindowFailsWithEinvalAndRemovesNothing() throws Exception {
        TestPeer c = clientWithMemory();
        map(c, 0, 0x100000, 2 * PAGE);
        map(c, 2 * PAGE, 0x104000, 2 * PAGE);

        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x100000, PAGE))).as("its head").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x101000, PAGE))).as("its tail").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0xff000, 2 * PAGE))).as("from before into it").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x101000, 0x10000)))
                .as("a whole window after a cut one").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0xf0000, 0x15000)))
                .as("a whole window before a cut one").isEqualTo(Errno.EINVAL);

        assertThat(windowStarts()).containsExactly(0x100000L, 0x104000L);
        assertThat(mappingsOfClientMemory()).as("both windows stay mapped").isEqualTo(2);
        unmap(c, 0x100000, 2 * PAGE);
        unmap(c, 0x104000, 2 * PAGE);
        assertThat(mappingsOfClientMemory()).isZero();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    @Test
    void aRangeThatIsNeitherOneWindowNorPageAlignedOrIsEmptyFailsWithEinval() throws Exception {
        start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x10800, 0x800)).close();
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x10800, PAGE))).as("covers it, unaligned").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x20000, 0x800))).as("nothing there, unaligned").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x20000, 0))).as("empty").isEqualTo(Errno.EINVAL);
        unmap(c, 0x10000, PAGE); // aligned and whole: the window goes
        assertThat(device.dmaSpace().windows()).isEmpty();
    }

    @Test
    void anUnalignedWindowGoesWithItsExactRange() throws Exception {
        start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x10800, 0x800)).close();
        unmap(c, 0x10800, 0x800);
        assertThat(device.dmaSpace().windows()).isEmpty();
    }

    @Test
    void aRangeUpToTheTopOfTheAddressSpaceCoversTheWindowsThere() throws Exception {
        TestPeer c = clientWithMemory();
        long acrossSignBit = 0x8000_0000_0000_0000L - PAGE;
        map(c, 0, acrossSignBit, 2 * PAGE);
        map(c, 2 * PAGE, -PAGE, PAGE); // [2^64 - 4096, 2^64)
        map(c, 3 * PAGE, 0x100000, PAGE);

        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x8000_0000_0000_0000L, 0x8000_0000_0000_0000L)))
                .as("the upper half cuts the window across the sign bit").isEqualTo(Errno.EINVAL);
        unmap(c, acrossSignBit, -acrossSignBit); // [2^63 - 4096, 2^64)

        assertThat(windowStarts()).containsExactly(0x100000L);
        assertThat(mappingsOfClientMemory()).isEqualTo(1);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    @Test
    void qemusShutdownSweepInPowerOfTwoChunksUnmapsEveryWindow() throws Exception {
        // QEMU behind intel-iommu unmaps the IOMMU's address space (48 bits, its default width) around the
        // interrupt range 0xfee00000-0xfeefffff, each chunk the largest aligned power of two.
        TestPeer c = clientWithMemory();
        map(c, 0, 0, 2 * PAGE);
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0xc0000, 0x40000)).close();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, 0x7ff00000)).close();
        map(c, 2 * PAGE, 0xfef00000L, PAGE);
        map(c, 3 * PAGE, 0x1_0000_0000L, PAGE);
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x40_0000_0000L, 0x10_0000_0000L)).close();

        List<long[]> chunks = powerOfTwoChunks(0, 0xfee00000L);
        chunks.addAll(powerOfTwoChunks(0xfef00000L, 1L << 48));
        for (long[] chunk : chunks) {
            unmap(c, chunk[0], chunk[1]);
        }

        assertThat(chunks).as("as many chunks as QEMU logged refusals before this change").hasSize(28);
        assertThat(device.dmaSpace().windows()).isEmpty();
        assertThat(mappingsOfClientMemory()).isZero();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }

    /** [start, end) in {iova, size} chunks, each the largest power of two aligned at its start that fits. */
    private static List<long[]> powerOfTwoChunks(long start, long end) {
        List<long[]> chunks = new ArrayList<>();
        while (start < end) {
            long size = start == 0 ? Long.highestOneBit(end) : Long.lowestOneBit(start);
            while (start + size > end) {
                size >>>= 1;
            }
            chunks.add(new long[] {start, size});
            start += size;
        }
        return chunks;
    }

    @Test
    void unmapAllTakesNoRangeAndNoDirtyBitmap() throws Exception {
        start();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000, PAGE)).close();
        assertThat(c.callError(Command.DMA_UNMAP, new DmaUnmap(DmaUnmap.SIZE, Vfio.DMA_UNMAP_FLAG_ALL, 0x100000, PAGE, null)))
                .isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DMA_UNMAP, new DmaUnmap(DmaUnmap.SIZE,
                Vfio.DMA_UNMAP_FLAG_ALL | Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0, 0, null))).isEqualTo(Errno.EINVAL);
        assertThat(windowStarts()).containsExactly(0x100000L);
        try (TestPeer.Msg reply = c.call(Command.DMA_UNMAP, DmaUnmap.all())) {
            assertThat(reply.payload()).containsExactly(TestPeer.bytes(DmaUnmap.all()));
        }
        assertThat(device.dmaSpace().windows()).isEmpty();
    }

    @Test
    void theDirtyBitmapFlagIsRefusedAndTheWindowsStay() throws Exception {
        // Migration v1's dirty bitmap on unmap is not offered: dirty pages go by DMA logging (v2).
        TestPeer c = clientWithMemory();
        map(c, 0, 0x100000, 2 * PAGE);
        long bitmapBytes = 8;
        DmaUnmap withBitmap = new DmaUnmap(DmaUnmap.SIZE + Bitmap.HEADER_SIZE + (int) bitmapBytes,
                Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0x100000, 2 * PAGE, Bitmap.request(PAGE, bitmapBytes));
        assertThat(c.callError(Command.DMA_UNMAP, withBitmap)).isEqualTo(Errno.ENOTSUP);
        assertThat(windowStarts()).containsExactly(0x100000L);
        assertThat(mappingsOfClientMemory()).isEqualTo(1);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);
    }
}
