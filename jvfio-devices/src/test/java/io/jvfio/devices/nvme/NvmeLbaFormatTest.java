package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Namespaces of 4096-byte logical blocks over an image: Identify reports the format (LBAF0
 * LBADS 12, FLBAS 0, NSZE in 4 KiB blocks) and every command's LBAs and block counts land on
 * the image at 4 KiB granularity — Read and Write through PRPs and SGLs, Write Zeroes, Dataset
 * Management, the range check and MDTS in blocks.
 */
class NvmeLbaFormatTest {
    static final long DISK = 8 << 20, BLOCKS = DISK / 4096;
    static final int BLOCK = 4096;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue q;

    void start(int blockSize) throws Exception {
        d = UserspaceNvmeDriver.serve(served, NvmeController.builder()
                .namespace(BlockImage.open(dir.resolve("disk.img"), DISK, false)).blockSize(blockSize).build(), true,
                UserspaceNvmeDriver.MEMORY_IOVA);
        d.enable(32);
        q = d.createIoQueue(1, 16);
    }

    byte[] onDisk(long offset, int length) throws Exception {
        return NvmeSglTest.onDisk(dir.resolve("disk.img"), offset, length);
    }

    @Test
    void identifyReportsTheFormat() throws Exception {
        start(BLOCK);
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_NAMESPACE, 1, page), SC_SUCCESS);
        assertThat(d.memory.get(U64, page + ID_NS_NSZE)).isEqualTo(BLOCKS);
        assertThat(d.memory.get(U64, page + ID_NS_NCAP)).isEqualTo(BLOCKS);
        assertThat(d.memory.get(U64, page + ID_NS_NUSE)).isEqualTo(BLOCKS);
        assertThat(d.memory.get(ValueLayout.JAVA_BYTE, page + ID_NS_NLBAF)).as("one format, 0-based").isZero();
        assertThat(d.memory.get(ValueLayout.JAVA_BYTE, page + ID_NS_FLBAS)).as("format 0, no metadata").isZero();
        int lbaf0 = d.memory.get(U32, page + ID_NS_LBAF0);
        assertThat(lbaf0 >>> LBAF_LBADS_SHIFT & 0xff).as("LBADS").isEqualTo(12);
        assertThat(lbaf0 & 0xffff).as("metadata size").isZero();
        assertThat(d.memory.get(U32, page + ID_NS_LBAF0 + 4)).as("no second format").isZero();
    }

    @Test
    void fiveTwelveByteBlocksAreTheDefault() throws Exception {
        start(512);
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_NAMESPACE, 1, page), SC_SUCCESS);
        assertThat(d.memory.get(U64, page + ID_NS_NSZE)).isEqualTo(DISK / 512);
        assertThat(d.memory.get(U32, page + ID_NS_LBAF0) >>> LBAF_LBADS_SHIFT & 0xff).isEqualTo(9);
    }

    @Test
    void commandsAddressFourKibBlocks() throws Exception {
        start(BLOCK);
        byte[] pattern = new byte[2 * BLOCK];
        new Random(4096).nextBytes(pattern);
        long data = d.alloc(2 * BLOCK);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, d.memory, data, pattern.length);
        // LBA 3, two blocks: bytes 12288-20479 of the image.
        assertStatus(d.io(q, IO_WRITE, 1, 3, 2, d.iova(data), d.iova(data + BLOCK)), SC_SUCCESS);
        assertThat(onDisk(3 * BLOCK, 2 * BLOCK)).isEqualTo(pattern);
        assertThat(onDisk(3 * BLOCK - 512, 512)).containsOnly(0);

        // LBA 4, one block, back through an SGL at a byte offset.
        long back = d.alloc(2 * BLOCK);
        assertStatus(d.ioSgl(q, IO_READ, 1, 4, 1, d.iova(back) + 7, BLOCK, SGL_DATA_BLOCK), SC_SUCCESS);
        assertThat(d.memory.asSlice(back + 7, BLOCK).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(Arrays.copyOfRange(pattern, BLOCK, 2 * BLOCK));
        assertStatus(d.ioSgl(q, IO_READ, 1, 4, 1, d.iova(back), 512, SGL_DATA_BLOCK), SC_DATA_SGL_LENGTH_INVALID | STATUS_DNR);

        // Write Zeroes of LBA 3 leaves LBA 4.
        assertStatus(q.submit(IO_WRITE_ZEROES, 1, e -> e.set(U64, SQE_CDW10, 3)), SC_SUCCESS);
        assertThat(onDisk(3 * BLOCK, BLOCK)).containsOnly(0);
        assertThat(onDisk(4 * BLOCK, BLOCK)).isEqualTo(Arrays.copyOfRange(pattern, BLOCK, 2 * BLOCK));

        // Deallocate LBA 4 (one 4 KiB block): it reads zeros.
        long range = d.alloc(4096);
        d.memory.set(U32, range + DSM_RANGE_LENGTH, 1);
        d.memory.set(U64, range + DSM_RANGE_SLBA, 4);
        assertStatus(q.submit(IO_DATASET_MANAGEMENT, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(range));
            e.set(U32, SQE_CDW11, DSM_DEALLOCATE);
        }), SC_SUCCESS);
        assertThat(onDisk(4 * BLOCK, BLOCK)).containsOnly(0);

        // The last block exists, the one after does not; MDTS (512 KiB) is 128 blocks.
        assertStatus(d.io(q, IO_READ, 1, BLOCKS - 1, 1, d.iova(back), 0), SC_SUCCESS);
        assertStatus(d.io(q, IO_READ, 1, BLOCKS - 1, 2, d.iova(back), d.iova(back + BLOCK)), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        assertStatus(d.io(q, IO_READ, 1, BLOCKS, 1, d.iova(back), 0), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        long big = d.alloc(129 * BLOCK);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 128, d.iova(big), 128 * BLOCK, SGL_DATA_BLOCK), SC_SUCCESS);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 129, d.iova(big), 129 * BLOCK, SGL_DATA_BLOCK), SC_INVALID_FIELD | STATUS_DNR);
    }
}
