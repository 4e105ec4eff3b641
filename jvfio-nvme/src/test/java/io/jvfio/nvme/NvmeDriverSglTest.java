package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SGLs against jvfio's controller (SGLS 01b: no alignment asked): contiguous buffers at byte
 * offsets PRPs cannot describe, scattered pieces of odd sizes through the command's segment, up to
 * a full page of descriptors, checked in the image file; the limits refused before a slot is taken.
 * Without SGLs, scatter lists on page boundaries as PRPs.
 */
class NvmeDriverSglTest {
    private static final int NSID = 1, BLOCK = 512;

    @TempDir
    Path dir;

    @Test
    void prpsStayTheDefault() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults());
            assertThat(driver.controller().supportsSgls()).isTrue();
            assertThat(driver.controller().sglsNeedDwordAlignment()).isFalse();
            assertThat(driver.usesSgls()).isFalse();
            DmaRegion buffer = driver.allocateBuffer(8192);
            assertThatThrownBy(() -> driver.ioQueue().read(NSID, 0, 1, buffer.segment().asSlice(1), buffer.iova() + 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not dword-aligned (PRP1)");
            ScatterList two = new ScatterList(2).add(buffer, 0, 256).add(buffer, 4096, 256);
            assertThatThrownBy(() -> driver.ioQueue().read(NSID, 0, 1, two)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("piece 0 of the scatter list (256 bytes at IOVA 0x%x) does not end on a page boundary",
                            buffer.iova());
            ScatterList inside = new ScatterList(2).add(buffer, 0, 4096).add(buffer, 4100, 1024);
            assertThatThrownBy(() -> driver.ioQueue().read(NSID, 0, 10, inside)).hasMessageContaining("piece 1")
                    .hasMessageContaining("does not start on a page boundary");
            ScatterList one = new ScatterList(1).add(buffer, 0, 1024);
            driver.ioQueue().read(NSID, 0, 2, one);   // one piece goes as PRPs
        }
    }

    /** Without SGLs a scatter list whose pieces meet on page boundaries goes as PRP1 and PRP2, or a PRP list. */
    @Test
    void scatterListsOnPageBoundariesGoAsPrps() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults());
            IoQueue queue = driver.ioQueue();
            DmaRegion a = driver.allocateBuffer(64 << 10), b = driver.allocateBuffer(64 << 10);
            // Three pieces, three pages after PRP1's (a list); then two pieces, one page after PRP1's (PRP2 itself).
            int[][][] lists = {{{0, 2048, 2048}, {1, 8192, 8192}, {0, 16384, 1536}}, {{1, 3072, 1024}, {0, 40960, 512}}};
            long lba = 200;
            for (int[][] pieces : lists) {
                ScatterList list = new ScatterList(pieces.length);
                int bytes = 0;
                for (int[] piece : pieces) {
                    list.add(piece[0] == 0 ? a : b, piece[1], piece[2]);
                    bytes += piece[2];
                }
                byte[] expected = random(bytes, (int) lba);
                scatter(expected, pieces, a, b);
                queue.write(NSID, lba, bytes / BLOCK, list);
                assertThat(served.imageBytes("disk.img", lba * BLOCK, bytes)).isEqualTo(expected);
                a.segment().fill((byte) 0);
                b.segment().fill((byte) 0);
                queue.read(NSID, lba, bytes / BLOCK, list);
                assertThat(gather(pieces, a, b, bytes)).isEqualTo(expected);
                lba += 100;
            }
        }
    }

    private static void scatter(byte[] data, int[][] pieces, DmaRegion a, DmaRegion b) {
        int at = 0;
        for (int[] piece : pieces) {
            MemorySegment.copy(MemorySegment.ofArray(data), at, (piece[0] == 0 ? a : b).segment(), piece[1], piece[2]);
            at += piece[2];
        }
    }

    private static byte[] gather(int[][] pieces, DmaRegion a, DmaRegion b, int bytes) {
        byte[] data = new byte[bytes];
        int at = 0;
        for (int[] piece : pieces) {
            MemorySegment.copy((piece[0] == 0 ? a : b).segment(), piece[1], MemorySegment.ofArray(data), at, piece[2]);
            at += piece[2];
        }
        return data;
    }

    @ParameterizedTest(name = "shared memory {0}")
    @ValueSource(booleans = {true, false})
    void contiguousBuffersAtAnyByteOffset(boolean shared) throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults().withSgls(true).withSharedMemory(shared));
            assertThat(driver.usesSgls()).isTrue();
            IoQueue queue = driver.ioQueue();
            long max = driver.maxTransferBytes();
            DmaRegion out = driver.allocateBuffer(max * 2 + 8192);
            DmaRegion in = driver.allocateBuffer(max * 2 + 8192);
            long lba = 0;
            int seed = 1;
            for (long offset : new long[] {0, 1, 4093}) {
                for (int blocks : new int[] {1, 9, (int) (max / BLOCK), (int) (max / BLOCK) + 3}) {
                    long bytes = (long) blocks * BLOCK;
                    byte[] expected = random(bytes, seed++);
                    MemorySegment.copy(MemorySegment.ofArray(expected), 0, out.segment(), offset, bytes);
                    queue.write(NSID, lba, blocks, out.segment().asSlice(offset), out.iova() + offset);
                    in.segment().fill((byte) 0);
                    queue.read(NSID, lba, blocks, in.segment().asSlice(offset), in.iova() + offset);
                    assertThat(in.segment().asSlice(offset, bytes).toArray(ValueLayout.JAVA_BYTE))
                            .as("%d blocks at offset %d", blocks, offset).isEqualTo(expected);
                    assertThat(served.imageBytes("disk.img", lba * BLOCK, (int) bytes)).isEqualTo(expected);
                    lba += blocks;
                }
            }
        }
    }

    @ParameterizedTest(name = "shared memory {0}")
    @ValueSource(booleans = {true, false})
    void scatteredPiecesOfOddSizes(boolean shared) throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults().withSgls(true).withSharedMemory(shared));
            IoQueue queue = driver.ioQueue();
            DmaRegion a = driver.allocateBuffer(64 << 10), b = driver.allocateBuffer(64 << 10);
            byte[] expected = random(4096, 11);
            // Written from four pieces in two buffers, out of order and at odd addresses...
            int[][] pieces = {{0, 7, 100}, {1, 30001, 412}, {0, 50003, 3000}, {1, 5, 584}};   // buffer, offset, length
            ScatterList list = new ScatterList(4);
            for (int[] piece : pieces) {
                list.add(piece[0] == 0 ? a : b, piece[1], piece[2]);
            }
            scatter(expected, pieces, a, b);
            queue.write(NSID, 40, 8, list);
            assertThat(served.imageBytes("disk.img", 40 * BLOCK, 4096)).isEqualTo(expected);

            // ...read back as a full page of 16-byte descriptors, every other 16 bytes of a buffer.
            ScatterList full = new ScatterList(ScatterList.MAX_PIECES);
            for (int i = 0; i < ScatterList.MAX_PIECES; i++) {
                full.add(b, 32L * i + 3, 16);
            }
            b.segment().fill((byte) 0);
            queue.read(NSID, 40, 8, full);
            for (int i = 0; i < ScatterList.MAX_PIECES; i++) {
                assertThat(b.segment().asSlice(32L * i + 3, 16).toArray(ValueLayout.JAVA_BYTE)).as("piece %d", i)
                        .isEqualTo(java.util.Arrays.copyOfRange(expected, 16 * i, 16 * i + 16));
                assertThat(b.segment().get(ValueLayout.JAVA_BYTE, 32L * i + 3 + 16)).as("the gap after piece %d", i).isZero();
            }

            // Asynchronously too, with the caller's tag.
            long[] seen = new long[1];
            queue.submitRead(NSID, 40, 8, list, 77);
            CompletionListener record = (tag, status, result) -> seen[0] = status == 0 ? tag : -status;
            assertThat(queue.await(record, java.time.Duration.ofSeconds(10))).isEqualTo(1);
            assertThat(seen[0]).isEqualTo(77);
        }
    }

    @Test
    void limitsAreRefusedBeforeASlotIsTaken() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults().withSgls(true));
            IoQueue queue = driver.ioQueue();
            DmaRegion buffer = driver.allocateBuffer(driver.maxTransferBytes() + 4096);
            ScatterList short_ = new ScatterList(2).add(buffer, 0, 500).add(buffer, 1000, 8);
            assertThatThrownBy(() -> queue.submitRead(NSID, 0, 2, short_, 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("holds 508 bytes; the command moves 1024");
            int beyond = (int) (driver.maxTransferBytes() / BLOCK) + 1;
            ScatterList big = new ScatterList(2).add(buffer, 0, 4096).add(buffer, 4096, (int) driver.maxTransferBytes() - 3584);
            assertThatThrownBy(() -> queue.submitRead(NSID, 0, beyond, big, 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("MDTS");
            assertThatThrownBy(() -> new ScatterList(ScatterList.MAX_PIECES + 1)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new ScatterList(1).add(0x1000, 8).add(0x2000, 8)).isInstanceOf(IllegalStateException.class);
            assertThat(queue.inFlight()).isZero();
        }
    }

    @Test
    void descriptorsAndDwordAlignment() {
        assertThat(SglBuilder.dataBlock(4096)).isEqualTo(4096L);
        assertThat(SglBuilder.lastSegment(3)).isEqualTo(48L | 0x30L << 56);
        SglBuilder dword = new SglBuilder(null, true);
        dword.checkDataBlock(0x1004, 512);
        assertThatThrownBy(() -> dword.checkDataBlock(0x1002, 512)).hasMessageContaining("dword-aligned");
        assertThatThrownBy(() -> dword.checkDataBlock(0x1000, 510)).hasMessageContaining("dword-aligned");
        new SglBuilder(null, false).checkDataBlock(0x1003, 509);
        assertThatThrownBy(() -> dword.checkDataBlock(0, 1L << 32)).hasMessageContaining("data block of");
    }

    private static byte[] random(long bytes, int seed) {
        byte[] data = new byte[(int) bytes];
        new Random(seed).nextBytes(data);
        return data;
    }
}
