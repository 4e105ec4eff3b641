package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SGLs through the controller over a real vfio-user socket: Identify advertises them, Read and
 * Write and Dataset Management move data through the shapes Linux builds (a Last Segment of byte
 * granular data blocks) and others (chained segments, bit buckets), MDTS still holds, and bad
 * descriptors complete with their status while the queue goes on.
 */
class NvmeSglTest {
    static final long DISK = 8 << 20;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue q;

    void start(boolean shared) throws Exception {
        d = UserspaceNvmeDriver.serve(served, NvmeController.builder()
                .namespace(BlockImage.open(dir.resolve("disk.img"), DISK, false)).build(), shared, UserspaceNvmeDriver.MEMORY_IOVA);
        d.enable(32);
        q = d.createIoQueue(1, 16);
    }

    /** {@code length} bytes of the image at {@code offset}, as the file holds them. */
    static byte[] onDisk(Path image, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(image)) {
            ch.read(b, offset);
        }
        return b.array();
    }

    @Test
    void identifyAdvertisesSglsWithBitBuckets() throws Exception {
        start(true);
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_CONTROLLER, 0, page), SC_SUCCESS);
        assertThat(d.memory.get(U32, page + ID_CTRL_SGLS)).isEqualTo(SGLS_SUPPORTED | SGLS_BIT_BUCKET);
    }

    @ParameterizedTest(name = "shared memory: {0}")
    @ValueSource(booleans = {true, false})
    void readsAndWritesThroughSgls(boolean shared) throws Exception {
        start(shared);
        int bytes = 64 << 10;
        byte[] pattern = new byte[bytes];
        new Random(44).nextBytes(pattern);
        // Linux's shape: a Last Segment in the entry, data blocks at any byte address and of any length.
        long data = d.alloc(2 * bytes), segment = d.alloc(4096);
        int[] lengths = {1000, 20000, 4096, 40440};
        long at = data + 3, descriptorAt = segment;
        int done = 0;
        for (int length : lengths) {
            MemorySegment.copy(MemorySegment.ofArray(pattern), done, d.memory, at, length);
            d.sglSegment(descriptorAt, d.iova(at), length, SGL_DATA_BLOCK);
            descriptorAt += SGL_DESCRIPTOR_SIZE;
            done += length;
            at += length + 77;   // scattered
        }
        assertStatus(d.ioSgl(q, IO_WRITE, 1, 64, bytes / 512, d.iova(segment), lengths.length * SGL_DESCRIPTOR_SIZE,
                SGL_LAST_SEGMENT), SC_SUCCESS);
        assertStatus(q.submit(IO_FLUSH, 1, e -> { }), SC_SUCCESS);
        assertThat(onDisk(dir.resolve("disk.img"), 64 * 512, bytes)).isEqualTo(pattern);

        // Read it back through a Segment that chains to a Last Segment, skipping 512 bytes into a bit bucket.
        long back = d.alloc(bytes), second = d.alloc(4096);
        d.memory.asSlice(back, bytes).fill((byte) 0x33);
        d.sglSegment(segment, d.iova(back), 512, SGL_DATA_BLOCK, 0, 512, SGL_BIT_BUCKET,
                d.iova(second), 2 * SGL_DESCRIPTOR_SIZE, SGL_LAST_SEGMENT);
        d.sglSegment(second, d.iova(back + 1024), 4096, SGL_DATA_BLOCK, d.iova(back + 5120), bytes - 5120, SGL_DATA_BLOCK);
        assertStatus(d.ioSgl(q, IO_READ, 1, 64, bytes / 512, d.iova(segment), 3 * SGL_DESCRIPTOR_SIZE, SGL_SEGMENT),
                SC_SUCCESS);
        byte[] read = d.memory.asSlice(back, bytes).toArray(ValueLayout.JAVA_BYTE);
        assertThat(Arrays.copyOfRange(read, 0, 512)).isEqualTo(Arrays.copyOfRange(pattern, 0, 512));
        assertThat(Arrays.copyOfRange(read, 512, 1024)).as("the bit bucket's share is not written").containsOnly(0x33);
        assertThat(Arrays.copyOfRange(read, 1024, bytes)).isEqualTo(Arrays.copyOfRange(pattern, 1024, bytes));

        // One data block in the entry.
        d.memory.asSlice(back, 4096).fill((byte) 0);
        assertStatus(d.ioSgl(q, IO_READ, 1, 64, 8, d.iova(back) + 1, 4096, SGL_DATA_BLOCK), SC_SUCCESS);
        assertThat(d.memory.asSlice(back + 1, 4096).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(Arrays.copyOf(pattern, 4096));
    }

    @Test
    void datasetManagementTakesItsRangesThroughAnSgl() throws Exception {
        start(true);
        long list = d.alloc(4096);
        d.memory.set(U32, list + 5 + DSM_RANGE_LENGTH, 8);
        d.memory.set(UserspaceNvmeDriver.U64, list + 5 + DSM_RANGE_SLBA, DISK / 512 - 8);
        assertStatus(q.submit(IO_DATASET_MANAGEMENT, 1, e -> {
            e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (PSDT_SGL << FLAGS_PSDT_SHIFT));
            UserspaceNvmeDriver.sglDescriptor(e, SQE_PRP1, d.iova(list) + 5, DSM_RANGE_SIZE, SGL_DATA_BLOCK);
            e.set(U32, SQE_CDW11, DSM_DEALLOCATE);
        }), SC_SUCCESS);
        d.memory.set(U32, list + 5 + DSM_RANGE_LENGTH, 9);   // one block past the end
        assertStatus(q.submit(IO_DATASET_MANAGEMENT, 1, e -> {
            e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (PSDT_SGL << FLAGS_PSDT_SHIFT));
            UserspaceNvmeDriver.sglDescriptor(e, SQE_PRP1, d.iova(list) + 5, DSM_RANGE_SIZE, SGL_DATA_BLOCK);
            e.set(U32, SQE_CDW11, DSM_DEALLOCATE);
        }), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        assertStatus(q.submit(IO_DATASET_MANAGEMENT, 1, e -> {   // the SGL describes 8 bytes of a 16-byte range
            e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (PSDT_SGL << FLAGS_PSDT_SHIFT));
            UserspaceNvmeDriver.sglDescriptor(e, SQE_PRP1, d.iova(list), 8, SGL_DATA_BLOCK);
        }), SC_DATA_SGL_LENGTH_INVALID | STATUS_DNR);
    }

    @Test
    void badSglsCompleteWithTheirStatusAndTheQueueGoesOn() throws Exception {
        start(false);
        long data = d.alloc(1 << 20), segment = d.alloc(4096);
        // MDTS (512 KiB) holds for SGLs: checked before the SGL is looked at.
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1025, d.iova(data), 1025 * 512, SGL_DATA_BLOCK), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1024, d.iova(data), 1024 * 512, SGL_DATA_BLOCK), SC_SUCCESS);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1, d.iova(data), 512, 4), SC_SGL_DESCRIPTOR_TYPE_INVALID | STATUS_DNR);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 2, d.iova(data), 512, SGL_DATA_BLOCK), SC_DATA_SGL_LENGTH_INVALID | STATUS_DNR);
        assertStatus(d.ioSgl(q, IO_WRITE, 1, 0, 1, 0, 512, SGL_BIT_BUCKET), SC_SGL_DESCRIPTOR_TYPE_INVALID | STATUS_DNR);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1, d.iova(segment), 20, SGL_LAST_SEGMENT),
                SC_INVALID_SGL_SEGMENT_DESCRIPTOR | STATUS_DNR);
        d.sglSegment(segment, d.iova(segment), 16, SGL_LAST_SEGMENT, d.iova(data), 512, SGL_DATA_BLOCK);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1, d.iova(segment), 32, SGL_LAST_SEGMENT),
                SC_INVALID_SGL_DESCRIPTOR_COUNT | STATUS_DNR);
        d.sglSegment(segment, d.iova(data), 0, SGL_DATA_BLOCK, d.iova(segment), 32, SGL_SEGMENT);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1, d.iova(segment), 32, SGL_SEGMENT),
                SC_INVALID_SGL_DESCRIPTOR_COUNT | STATUS_DNR);   // a chain that loops
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1, 0x4000_0000L, 16, SGL_LAST_SEGMENT), SC_DATA_TRANSFER_ERROR);
        assertStatus(d.ioSgl(q, IO_READ, 1, 0, 1, 0x4000_0000L, 512, SGL_DATA_BLOCK), SC_DATA_TRANSFER_ERROR);
        UserspaceNvmeDriver.Completion ok = d.ioSgl(q, IO_READ, 1, 0, 1, d.iova(data), 512, SGL_DATA_BLOCK);
        assertStatus(ok, SC_SUCCESS);
        assertThat(ok.sqHead()).isEqualTo(q.tail);
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }
}
