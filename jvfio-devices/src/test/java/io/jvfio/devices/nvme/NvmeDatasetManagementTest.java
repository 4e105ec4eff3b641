package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Dataset Management (deallocate punches holes in an image), Write Zeroes with DEAC, and the
 * Changed Namespace List and Commands Supported and Effects log pages, over a real vfio-user
 * socket like {@link NvmeControllerTest}.
 */
class NvmeDatasetManagementTest {
    static final long DISK = 8 << 20, BLOCKS = DISK / 512;
    static final byte FILL = 0x5a;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    Path image;
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue q;

    @BeforeEach
    void setUp() throws Exception {
        image = dir.resolve("disk.img");
        byte[] data = new byte[(int) DISK];
        Arrays.fill(data, FILL);
        Files.write(image, data);   // every block allocated
    }

    /** Serves the controller, enables it and creates I/O queue 1: {@link #d} and {@link #q}. */
    void start(NvmeController.Builder builder) throws Exception {
        NvmeController nvme = builder.build();
        served.closeLater(nvme::shutdown);
        d = served.closeLater(new UserspaceNvmeDriver(served.serve(nvme, "nvme.sock"), true));
        d.enable(32);
        q = d.createIoQueue(1, 16);
    }

    void startWithImage() throws Exception {
        start(NvmeController.builder().namespace(BlockImage.open(image, DISK, false)));
    }

    long allocatedBytes() throws Exception {
        try (Fd fd = Linux.open(image, false)) {
            return Linux.allocatedBytes(fd);
        }
    }

    /** Writes {@code ranges} (slba, blocks pairs) as a range list at {@code list}. */
    void ranges(long list, long... slbaAndBlocks) {
        for (int i = 0; i < slbaAndBlocks.length / 2; i++) {
            long at = list + (long) i * DSM_RANGE_SIZE;
            d.memory.set(U32, at, 0);
            d.memory.set(U32, at + DSM_RANGE_LENGTH, (int) slbaAndBlocks[2 * i + 1]);
            d.memory.set(U64, at + DSM_RANGE_SLBA, slbaAndBlocks[2 * i]);
        }
    }

    UserspaceNvmeDriver.Completion dsm(int nsid, int cdw10, int cdw11, long prp1)
            throws Exception {
        return q.submit(IO_DATASET_MANAGEMENT, nsid, e -> {
            e.set(U64, SQE_PRP1, prp1);
            e.set(U32, SQE_CDW10, cdw10);
            e.set(U32, SQE_CDW11, cdw11);
        });
    }

    /** The first byte of each of {@code blocks} blocks from {@code slba}, read through the controller. */
    byte[] firstBytes(long slba, int blocks) throws Exception {
        long data = d.alloc(4096);
        byte[] bytes = new byte[blocks];
        for (int i = 0; i < blocks; i++) {
            d.memory.asSlice(data, 512).fill((byte) 1);
            assertStatus(d.io(q, IO_READ, 1, slba + i, 1, d.iova(data), 0), SC_SUCCESS);
            bytes[i] = d.memory.get(ValueLayout.JAVA_BYTE, data);
            assertThat(d.memory.asSlice(data, 512).toArray(ValueLayout.JAVA_BYTE)).as("block %d", slba + i).containsOnly(bytes[i]);
        }
        return bytes;
    }

    @Test
    void deallocatePunchesHolesThatReadZeros() throws Exception {
        startWithImage();
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_CONTROLLER, 0, page), SC_SUCCESS);
        assertThat(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, page + ID_CTRL_ONCS) & ONCS_DATASET_MANAGEMENT).isNotZero();
        assertThat(d.memory.get(ValueLayout.JAVA_BYTE, page + ID_CTRL_LPA) & LPA_COMMAND_EFFECTS).isNotZero();
        long before = allocatedBytes();
        assertThat(before).isGreaterThanOrEqualTo(DISK);

        long list = d.alloc(4096);
        ranges(list, 2048, 2048, 8192, 1024);   // 1 MiB at 1 MiB, 512 KiB at 4 MiB
        assertStatus(dsm(1, 1, DSM_DEALLOCATE, d.iova(list)), SC_SUCCESS);

        long afterDsm = allocatedBytes();
        assertThat(afterDsm).isLessThanOrEqualTo(before - (3 << 19));
        assertThat(firstBytes(2047, 3)).containsExactly(FILL, 0, 0);
        assertThat(firstBytes(4095, 2)).containsExactly(0, FILL);
        assertThat(firstBytes(9215, 2)).containsExactly(0, FILL);

        // Write Zeroes with DEAC deallocates too: 256 KiB at 6 MiB.
        assertStatus(q.submit(IO_WRITE_ZEROES, 1, e -> {
            e.set(U64, SQE_CDW10, 12288);
            e.set(U32, SQE_CDW12, WZ_DEAC | 511);
        }), SC_SUCCESS);
        assertThat(allocatedBytes()).isLessThanOrEqualTo(afterDsm - (1 << 18));
        assertThat(firstBytes(12287, 2)).containsExactly(FILL, 0);
        assertThat(firstBytes(12799, 2)).containsExactly(0, FILL);
    }

    @Test
    void badRangesAndFieldsCompleteWithTheirStatusAndDeallocateNothing() throws Exception {
        startWithImage();
        long list = d.alloc(8192);
        long before = allocatedBytes();

        ranges(list, 0, 8, 16, 8, BLOCKS - 1, 2);   // the last range runs off the end
        assertStatus(dsm(1, 2, DSM_DEALLOCATE, d.iova(list)), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        ranges(list, 0, 8, -1L, 1);
        assertStatus(dsm(1, 1, DSM_DEALLOCATE, d.iova(list)), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        ranges(list, BLOCKS, 1);
        assertStatus(dsm(1, 0, DSM_DEALLOCATE, d.iova(list)), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        // 257 ranges: NR is 8 bits, the bit above it is reserved.
        assertStatus(dsm(1, DSM_MAX_RANGES, DSM_DEALLOCATE, d.iova(list)), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(dsm(2, 0, DSM_DEALLOCATE, d.iova(list)), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertStatus(dsm(1, 0, DSM_DEALLOCATE, d.iova(list) + 2), SC_PRP_OFFSET_INVALID | STATUS_DNR);
        assertStatus(dsm(1, 0, DSM_DEALLOCATE, 0x4000_0000L), SC_DATA_TRANSFER_ERROR);
        assertThat(firstBytes(0, 1)).containsExactly(FILL);

        // 256 ranges, the list across two pages (PRP1 at an offset, PRP2 the next page); no AD: hints only.
        long[] all = new long[2 * DSM_MAX_RANGES];
        for (int i = 0; i < DSM_MAX_RANGES; i++) {
            all[2 * i] = 16L * i;
            all[2 * i + 1] = 8;
        }
        ranges(list + 2048, all);
        assertStatus(q.submit(IO_DATASET_MANAGEMENT, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(list + 2048));
            e.set(U64, SQE_PRP2, d.iova(list + 4096));
            e.set(U32, SQE_CDW10, DSM_MAX_RANGES - 1);
        }), SC_SUCCESS);
        assertThat(firstBytes(16 * 255, 1)).containsExactly(FILL);
        assertThat(allocatedBytes()).isEqualTo(before);
    }

    @Test
    void aNullNamespaceAcceptsDeallocate() throws Exception {
        start(NvmeController.builder().namespace(new NullStore(1 << 20)));
        long list = d.alloc(4096);
        ranges(list, 0, 2048);
        assertStatus(dsm(1, 0, DSM_DEALLOCATE, d.iova(list)), SC_SUCCESS);
        ranges(list, 0, 2049);
        assertStatus(dsm(1, 0, DSM_DEALLOCATE, d.iova(list)), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
    }

    /** Get Log Page of {@code lid}: {@code dwords} dwords from byte {@code offset} into {@code log}. */
    UserspaceNvmeDriver.Completion log(int lid, int dwords, long offset, long log)
            throws Exception {
        return d.admin().submit(ADMIN_GET_LOG_PAGE, BROADCAST_NSID, e -> {
            e.set(U64, SQE_PRP1, d.iova(log));
            e.set(U32, SQE_CDW10, (dwords - 1) << 16 | lid);
            e.set(U64, SQE_CDW12, offset);
        });
    }

    @Test
    void theChangedNamespaceAndCommandEffectsLogs() throws Exception {
        startWithImage();
        long log = d.alloc(8192);
        MemorySegment page = d.memory.asSlice(log, 8192);

        page.fill((byte) 0xee);
        assertStatus(log(LOG_CHANGED_NAMESPACES, 1024, 0, log), SC_SUCCESS);
        assertThat(page.asSlice(0, 4096).toArray(ValueLayout.JAVA_BYTE)).as("no namespace changed").containsOnly(0);
        assertThat(page.get(ValueLayout.JAVA_BYTE, 4096)).as("nothing past the page").isEqualTo((byte) 0xee);

        page.fill((byte) 0xee);
        assertStatus(log(LOG_COMMAND_EFFECTS, 1024, 0, log), SC_SUCCESS);
        for (int opcode : new int[] {ADMIN_DELETE_SQ, ADMIN_CREATE_SQ, ADMIN_GET_LOG_PAGE, ADMIN_DELETE_CQ,
                ADMIN_CREATE_CQ, ADMIN_IDENTIFY, ADMIN_ABORT, ADMIN_SET_FEATURES, ADMIN_GET_FEATURES,
                ADMIN_ASYNC_EVENT_REQUEST, ADMIN_DOORBELL_BUFFER_CONFIG}) {
            assertThat(page.get(U32, 4L * opcode)).as("admin 0x%x", opcode).isEqualTo(EFFECT_CSUPP);
        }
        assertThat(page.get(U32, 4L * 0x7f)).as("an admin opcode not implemented").isZero();
        long io = EFFECTS_IO_OFFSET;
        assertThat(page.get(U32, io + 4L * IO_FLUSH)).isEqualTo(EFFECT_CSUPP);
        assertThat(page.get(U32, io + 4L * IO_READ)).isEqualTo(EFFECT_CSUPP);
        for (int opcode : new int[] {IO_WRITE, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT}) {
            assertThat(page.get(U32, io + 4L * opcode)).as("I/O 0x%x", opcode).isEqualTo(EFFECT_CSUPP | EFFECT_LBCC);
        }
        assertThat(page.get(U32, io + 4L * 0x03)).isZero();
        assertThat(page.get(ValueLayout.JAVA_BYTE, 4096)).isEqualTo((byte) 0xee);

        // NUMD and the offset: four dwords from the I/O half, and nothing past them.
        page.fill((byte) 0xee);
        assertStatus(log(LOG_COMMAND_EFFECTS, 4, io, log), SC_SUCCESS);
        assertThat(page.get(U32, 4L * IO_WRITE)).isEqualTo(EFFECT_CSUPP | EFFECT_LBCC);
        assertThat(page.get(U32, 4L * IO_READ)).isEqualTo(EFFECT_CSUPP);
        assertThat(page.get(ValueLayout.JAVA_BYTE, 16)).isEqualTo((byte) 0xee);
        // Past the end the page is cut short; at or beyond its size, or not dword-aligned, Invalid Field.
        page.fill((byte) 0xee);
        assertStatus(log(LOG_CHANGED_NAMESPACES, 1024, 4092, log), SC_SUCCESS);
        assertThat(page.get(U32, 0)).isZero();
        assertThat(page.get(ValueLayout.JAVA_BYTE, 4)).isEqualTo((byte) 0xee);
        for (int lid : new int[] {LOG_CHANGED_NAMESPACES, LOG_COMMAND_EFFECTS}) {
            assertStatus(log(lid, 1, 4096, log), SC_INVALID_FIELD | STATUS_DNR);
            assertStatus(log(lid, 1, 2, log), SC_INVALID_FIELD | STATUS_DNR);
            assertStatus(log(lid, 1, 1L << 32, log), SC_INVALID_FIELD | STATUS_DNR);
        }
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }
}
