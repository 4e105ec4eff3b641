package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The NVMe controller driven over a real vfio-user socket by {@link UserspaceNvmeDriver}: PCI
 * identity, the enable/disable/shutdown handshakes, Identify, queue creation, I/O through PRP
 * lists (host memory shared by fd and reached by DMA messages), and bad fields completing with
 * the status the specification names.
 */
class NvmeControllerTest {
    static final long DISK = 8 << 20;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    NvmeController nvme;
    VfioUserClient client;

    UserspaceNvmeDriver serve(NvmeController.Builder builder, boolean shared) throws Exception {
        nvme = builder.build();
        NvmeController controller = nvme;
        served.closeLater(controller::shutdown);   // closed last: the image's fd too
        client = served.serve(nvme, "nvme.sock");
        return served.closeLater(new UserspaceNvmeDriver(client, shared));
    }

    UserspaceNvmeDriver serve(boolean shared) throws Exception {
        return serve(NvmeController.builder().namespace(BlockImage.open(dir.resolve("disk.img"), DISK, false))
                .serial("JVTEST0001").model("jvfio test controller").firmware("1.2.3"), shared);
    }

    static void assertStatus(UserspaceNvmeDriver.Completion c, int status) {
        assertThat(c.status()).as("status of CID %d", c.cid()).isEqualTo(status & 0x7ff);
        if (status != SC_SUCCESS) {
            assertThat(c.dnr()).as("DNR of status 0x%x", status).isEqualTo((status & STATUS_DNR) != 0);
        }
    }

    @Test
    void presentsAnNvmeControllerOnPciExpress() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        assertThat(client.read16(UserspaceNvmeDriver.CONFIG, 0)).isEqualTo(NvmeController.VENDOR_ID);
        assertThat(client.read32(UserspaceNvmeDriver.CONFIG, 8) >>> 8).isEqualTo(0x010802);
        assertThat(client.read32(UserspaceNvmeDriver.CONFIG, 0x10) & 0x6).as("BAR 0 is 64-bit").isEqualTo(0x4);
        assertThat(client.regionInfo(0).size()).isEqualTo(NvmeController.BAR_SIZE);
        java.util.Set<Integer> caps = new java.util.HashSet<>();
        for (int at = client.read8(UserspaceNvmeDriver.CONFIG, 0x34); at != 0; at = client.read8(UserspaceNvmeDriver.CONFIG, at + 1)) {
            caps.add(client.read8(UserspaceNvmeDriver.CONFIG, at));
        }
        assertThat(caps).containsExactlyInAnyOrder(0x01, 0x10, 0x11);   // PM, PCI Express, MSI-X
        assertThat(client.irqInfo(Vfio.PCI_MSIX_IRQ_INDEX).count()).isEqualTo(65);
        assertThat(client.irqInfo(Vfio.PCI_INTX_IRQ_INDEX).count()).isEqualTo(1);
        long cap = d.cap();
        assertThat(cap & CAP_MQES_MASK).isEqualTo(1023);
        assertThat(cap >>> CAP_CQR_SHIFT & 1).isEqualTo(1);
        assertThat(cap >>> CAP_TO_SHIFT & 0xff).isGreaterThanOrEqualTo(0xF);
        assertThat(cap >>> CAP_DSTRD_SHIFT & 0xf).isZero();
        assertThat(cap >>> CAP_CSS_SHIFT & 0xff).isEqualTo(CAP_CSS_NVM);
        assertThat(cap >>> CAP_MPSMIN_SHIFT & 0xf).isZero();
        assertThat(client.read32(0, REG_VS)).isEqualTo(0x10400);
        assertThat(d.csts()).isZero();
    }

    @Test
    void identifiesControllerAndNamespace() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_CONTROLLER, 0, page), SC_SUCCESS);
        MemorySegment id = d.memory.asSlice(page, 4096);
        assertThat(ascii(id, ID_CTRL_SN, SN_BYTES)).isEqualTo("JVTEST0001          ");
        assertThat(ascii(id, ID_CTRL_MN, MN_BYTES).strip()).isEqualTo("jvfio test controller");
        assertThat(ascii(id, ID_CTRL_FR, FR_BYTES)).isEqualTo("1.2.3   ");
        assertThat(id.get(ValueLayout.JAVA_BYTE, ID_CTRL_MDTS)).isEqualTo((byte) 7);
        assertThat(id.get(U32, ID_CTRL_VER)).isEqualTo(VERSION_1_4);
        assertThat(id.get(U32, ID_CTRL_NN)).isEqualTo(1);
        assertThat(id.get(ValueLayout.JAVA_BYTE, ID_CTRL_SQES)).isEqualTo((byte) 0x66);
        assertThat(id.get(ValueLayout.JAVA_BYTE, ID_CTRL_CQES)).isEqualTo((byte) 0x44);
        assertThat(ascii(id, ID_CTRL_SUBNQN, 64)).startsWith("nqn.2026-12.io.jvfio:nvme:");

        assertStatus(d.identify(CNS_NAMESPACE, 1, page), SC_SUCCESS);
        assertThat(id.get(U64, ID_NS_NSZE)).isEqualTo(DISK / 512);
        assertThat(id.get(U32, ID_NS_LBAF0) >>> LBAF_LBADS_SHIFT & 0xff).isEqualTo(9);

        assertStatus(d.identify(CNS_ACTIVE_NAMESPACES, 0, page), SC_SUCCESS);
        assertThat(id.get(U32, 0)).isEqualTo(1);
        assertThat(id.get(U32, 4)).isZero();

        assertStatus(d.identify(CNS_NAMESPACE_DESCRIPTORS, 1, page), SC_SUCCESS);
        assertThat(id.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) NIDT_UUID);
        assertThat(id.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 16);
        assertThat(id.get(ValueLayout.JAVA_BYTE, 20)).as("the list ends").isZero();

        assertStatus(d.identify(0x06, 0, page), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(d.identify(CNS_NAMESPACE, 2, page), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertStatus(d.identify(CNS_NAMESPACE_DESCRIPTORS, 0, page), SC_INVALID_NAMESPACE | STATUS_DNR);
    }

    private static String ascii(MemorySegment s, int offset, int length) {
        return new String(s.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII)
                .replace("\0", "");
    }

    @Test
    void aBadAdminQueueFailsTheEnableWithCfs() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        client.write32(0, REG_AQA, 0);   // one-entry queues
        client.write64(0, REG_ASQ, d.iova(d.alloc(4096)));
        client.write64(0, REG_ACQ, d.iova(d.alloc(4096)));
        client.write32(0, REG_CC, CC_EN | SQES << CC_IOSQES_SHIFT | CQES << CC_IOCQES_SHIFT);
        assertThat(d.csts() & (CSTS_CFS | CSTS_RDY)).isEqualTo(CSTS_CFS);
        client.write32(0, REG_CC, 0);
        d.awaitCsts(0xffff_ffff, 0);
        client.write32(0, REG_CC, CC_EN | 1 << CC_MPS_SHIFT);   // an 8 KiB page: not offered
        assertThat(d.csts() & (CSTS_CFS | CSTS_RDY)).isEqualTo(CSTS_CFS);
        client.write32(0, REG_CC, 0);
        d.awaitCsts(0xffff_ffff, 0);
        d.enable(32);
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }

    @ParameterizedTest(name = "shared memory: {0}")
    @ValueSource(booleans = {true, false})
    void readsAndWritesThroughPrpLists(boolean shared) throws Exception {
        UserspaceNvmeDriver d = serve(shared);
        d.enableMsix(3);
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 64);
        int pages = 16, bytes = pages * 4096;
        long data = d.alloc(bytes), list = d.alloc(4096);
        byte[] pattern = new byte[bytes];
        new Random(15).nextBytes(pattern);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, d.memory, data, bytes);
        // PRP1 the first page; PRP2 a list that starts 0x100 into its page (as Linux's small pool does).
        long listAt = list + 0x100;
        for (int i = 1; i < pages; i++) {
            d.memory.set(U64, listAt + 8L * (i - 1), d.iova(data + 4096L * i));
        }
        assertStatus(d.io(q, IO_WRITE, 1, 100, bytes / 512, d.iova(data), d.iova(listAt)), SC_SUCCESS);
        assertStatus(q.submit(IO_FLUSH, 1, e -> { }), SC_SUCCESS);
        ByteBuffer onDisk = ByteBuffer.allocate(bytes);
        try (FileChannel ch = FileChannel.open(dir.resolve("disk.img"))) {
            ch.read(onDisk, 100 * 512);
        }
        assertThat(onDisk.array()).isEqualTo(pattern);

        d.memory.asSlice(data, bytes).fill((byte) 0);
        assertStatus(d.io(q, IO_READ, 1, 100, bytes / 512, d.iova(data), d.iova(listAt)), SC_SUCCESS);
        assertThat(d.memory.asSlice(data, bytes).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(pattern);

        // PRP1 with an offset, PRP2 the second page: 512 bytes straddling a page boundary.
        long two = d.alloc(8192);
        assertStatus(d.io(q, IO_READ, 1, 100, 2, d.iova(two + 4096 - 512), d.iova(two + 4096)), SC_SUCCESS);
        assertThat(d.memory.asSlice(two + 4096 - 512, 1024).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(java.util.Arrays.copyOf(pattern, 1024));

        assertStatus(q.submit(IO_WRITE_ZEROES, 1, e -> {
            e.set(U64, SQE_CDW10, 100);
            e.set(U32, SQE_CDW12, 7);
        }), SC_SUCCESS);
        assertStatus(d.io(q, IO_READ, 1, 100, 8, d.iova(data), 0), SC_SUCCESS);
        assertThat(d.memory.asSlice(data, 4096).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
    }

    @Test
    void aPrpListChainsThroughItsLastEntry() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 16);
        int pages = 6, bytes = pages * 4096;
        long data = d.alloc(bytes), first = d.alloc(4096), second = d.alloc(4096);
        byte[] pattern = new byte[bytes];
        new Random(6).nextBytes(pattern);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, d.memory, data, bytes);
        // The first list has room for three entries: two data pages and the pointer to the next list.
        long listAt = first + 4096 - 24;
        d.memory.set(U64, listAt, d.iova(data + 4096));
        d.memory.set(U64, listAt + 8, d.iova(data + 8192));
        d.memory.set(U64, listAt + 16, d.iova(second));
        for (int i = 3; i < pages; i++) {
            d.memory.set(U64, second + 8L * (i - 3), d.iova(data + 4096L * i));
        }
        assertStatus(d.io(q, IO_WRITE, 1, 0, bytes / 512, d.iova(data), d.iova(listAt)), SC_SUCCESS);
        d.memory.asSlice(data, bytes).fill((byte) 0);
        assertStatus(d.io(q, IO_READ, 1, 0, bytes / 512, d.iova(data), d.iova(listAt)), SC_SUCCESS);
        assertThat(d.memory.asSlice(data, bytes).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(pattern);
    }

    @Test
    void badIoFieldsCompleteWithTheirStatus() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 16);
        long data = d.alloc(1 << 20), list = d.alloc(4096);
        long blocks = DISK / 512;
        assertStatus(d.io(q, IO_READ, 1, blocks - 1, 2, d.iova(data), 0), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        assertStatus(d.io(q, IO_READ, 1, -1L, 1, d.iova(data), 0), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
        assertStatus(d.io(q, IO_READ, 0, 0, 1, d.iova(data), 0), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertStatus(d.io(q, IO_READ, 2, 0, 1, d.iova(data), 0), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertStatus(q.submit(IO_FLUSH, 7, e -> { }), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertStatus(q.submit(IO_FLUSH, BROADCAST_NSID, e -> { }), SC_SUCCESS);
        // One block past MDTS (512 KiB).
        assertStatus(d.io(q, IO_READ, 1, 0, 1025, d.iova(data), d.iova(list)), SC_INVALID_FIELD | STATUS_DNR);
        // PRP1 not dword-aligned; PRP2 data page with an offset; a list entry with an offset.
        assertStatus(d.io(q, IO_READ, 1, 0, 1, d.iova(data) + 2, 0), SC_PRP_OFFSET_INVALID | STATUS_DNR);
        assertStatus(d.io(q, IO_READ, 1, 0, 16, d.iova(data), d.iova(data) + 4096 + 8), SC_PRP_OFFSET_INVALID | STATUS_DNR);
        d.memory.set(U64, list, d.iova(data + 4096));
        d.memory.set(U64, list + 8, d.iova(data + 8192) + 512);
        assertStatus(d.io(q, IO_READ, 1, 0, 24, d.iova(data), d.iova(list)), SC_PRP_OFFSET_INVALID | STATUS_DNR);
        // Memory the client never mapped.
        assertStatus(d.io(q, IO_READ, 1, 0, 1, 0x4000_0000L, 0), SC_DATA_TRANSFER_ERROR);
        assertStatus(q.submit(0x7f, 1, e -> { }), SC_INVALID_OPCODE | STATUS_DNR);
        // PSDT 01b: an SGL, here an empty data block for a 512-byte read; 10b (MPTR an SGL) and 11b are not offered.
        assertStatus(q.submit(IO_READ, 1, e -> e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (PSDT_SGL << FLAGS_PSDT_SHIFT))),
                SC_DATA_SGL_LENGTH_INVALID | STATUS_DNR);
        assertStatus(q.submit(IO_READ, 1, e -> e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS,
                (byte) (PSDT_SGL_METADATA_SEGMENT << FLAGS_PSDT_SHIFT))), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(q.submit(IO_READ, 1, e -> e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (3 << FLAGS_PSDT_SHIFT))),
                SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(q.submit(IO_READ, 1, e -> e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) 1)), SC_INVALID_FIELD | STATUS_DNR);
        // The queue still works, and SQ head advanced with every command.
        UserspaceNvmeDriver.Completion ok = d.io(q, IO_READ, 1, 0, 1, d.iova(data), 0);
        assertStatus(ok, SC_SUCCESS);
        assertThat(ok.sqHead()).isEqualTo(q.tail);
        assertThat(ok.sqId()).isEqualTo(1);
    }

    @Test
    void badAdminFieldsCompleteWithTheirStatus() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enableMsix(2);
        d.enable(32);
        UserspaceNvmeDriver.Queue a = d.admin();
        long mem = d.alloc(4096);
        assertStatus(a.submit(0x7e, 0, e -> { }), SC_INVALID_OPCODE | STATUS_DNR);
        assertStatus(d.createCq(0, 16, 0, true, mem), SC_INVALID_QUEUE_ID | STATUS_DNR);
        assertStatus(d.createCq(65, 16, 0, true, mem), SC_INVALID_QUEUE_ID | STATUS_DNR);
        assertStatus(d.createCq(1, 1, 0, true, mem), SC_INVALID_QUEUE_SIZE | STATUS_DNR);
        assertStatus(d.createCq(1, 1025, 0, true, mem), SC_INVALID_QUEUE_SIZE | STATUS_DNR);
        assertStatus(d.createCq(1, 16, 65, true, mem), SC_INVALID_INTERRUPT_VECTOR | STATUS_DNR);
        assertStatus(d.createCq(1, 16, 1, true, mem + 64), SC_PRP_OFFSET_INVALID | STATUS_DNR);
        assertStatus(a.submit(ADMIN_CREATE_CQ, 0, e -> {   // PC = 0: CAP.CQR wants contiguous queues
            e.set(U64, SQE_PRP1, d.iova(mem));
            e.set(U32, SQE_CDW10, 15 << 16 | 1);
        }), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(d.createSq(1, 16, 1, mem), SC_CQ_INVALID | STATUS_DNR);
        assertStatus(d.createSq(1, 16, 0, mem), SC_CQ_INVALID | STATUS_DNR);
        assertStatus(d.createCq(1, 16, 1, true, mem), SC_SUCCESS);
        assertStatus(d.createCq(1, 16, 1, true, mem), SC_INVALID_QUEUE_ID | STATUS_DNR);
        long sqMem = d.alloc(4096);
        assertStatus(d.createSq(1, 2000, 1, sqMem), SC_INVALID_QUEUE_SIZE | STATUS_DNR);
        assertStatus(d.createSq(0, 16, 1, sqMem), SC_INVALID_QUEUE_ID | STATUS_DNR);
        assertStatus(d.createSq(1, 16, 1, sqMem), SC_SUCCESS);
        assertStatus(a.submit(ADMIN_DELETE_CQ, 0, e -> e.set(U32, SQE_CDW10, 1)), SC_INVALID_QUEUE_DELETION | STATUS_DNR);
        assertStatus(a.submit(ADMIN_DELETE_SQ, 0, e -> e.set(U32, SQE_CDW10, 2)), SC_INVALID_QUEUE_ID | STATUS_DNR);
        assertStatus(a.submit(ADMIN_DELETE_SQ, 0, e -> e.set(U32, SQE_CDW10, 0)), SC_INVALID_QUEUE_ID | STATUS_DNR);
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_NUMBER_OF_QUEUES);
            e.set(U32, SQE_CDW11, 0x0003_0003);
        }), SC_COMMAND_SEQUENCE_ERROR);
        assertStatus(a.submit(ADMIN_DELETE_SQ, 0, e -> e.set(U32, SQE_CDW10, 1)), SC_SUCCESS);
        assertStatus(a.submit(ADMIN_DELETE_CQ, 0, e -> e.set(U32, SQE_CDW10, 1)), SC_SUCCESS);
        assertStatus(a.submit(ADMIN_DELETE_CQ, 0, e -> e.set(U32, SQE_CDW10, 1)), SC_INVALID_QUEUE_ID | STATUS_DNR);

        assertStatus(a.submit(ADMIN_GET_LOG_PAGE, 0, e -> {
            e.set(U64, SQE_PRP1, d.iova(mem));
            e.set(U32, SQE_CDW10, 127 << 16 | 0x42);
        }), SC_INVALID_LOG_PAGE | STATUS_DNR);
        assertStatus(a.submit(ADMIN_GET_LOG_PAGE, 0, e -> {   // offset beyond the page
            e.set(U64, SQE_PRP1, d.iova(mem));
            e.set(U32, SQE_CDW10, 127 << 16 | LOG_SMART);
            e.set(U32, SQE_CDW12, 1024);
        }), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(a.submit(ADMIN_GET_FEATURES, 0, e -> e.set(U32, SQE_CDW10, 0x7d)), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> e.set(U32, SQE_CDW10, FEATURE_SAVE | FEATURE_ARBITRATION)),
                SC_FEATURE_NOT_SAVEABLE | STATUS_DNR);
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_POWER_MANAGEMENT);
            e.set(U32, SQE_CDW11, 1);   // power state 1 of a single-state controller
        }), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_NUMBER_OF_QUEUES);
            e.set(U32, SQE_CDW11, 0xffff);
        }), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(a.submit(ADMIN_IDENTIFY, 0, e -> {   // SGL data pointer on an admin command
            e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (1 << FLAGS_PSDT_SHIFT));
            e.set(U32, SQE_CDW10, CNS_CONTROLLER);
        }), SC_INVALID_FIELD | STATUS_DNR);
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }

    @Test
    void featuresAndLogPagesReportTheController() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        UserspaceNvmeDriver.Queue a = d.admin();
        UserspaceNvmeDriver.Completion c = a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_NUMBER_OF_QUEUES);
            e.set(U32, SQE_CDW11, 99 << 16 | 3);
        });
        assertStatus(c, SC_SUCCESS);
        assertThat(c.result()).as("NCQA 64, NSQA 4 (0-based)").isEqualTo(63 << 16 | 3);
        assertThat(a.submit(ADMIN_GET_FEATURES, 0, e -> e.set(U32, SQE_CDW10, FEATURE_VOLATILE_WRITE_CACHE)).result()).isEqualTo(1);
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_TEMPERATURE_THRESHOLD);
            e.set(U32, SQE_CDW11, 300);
        }), SC_SUCCESS);
        assertThat(a.submit(ADMIN_GET_FEATURES, 0, e -> e.set(U32, SQE_CDW10, FEATURE_TEMPERATURE_THRESHOLD)).result()).isEqualTo(300);
        assertThat(a.submit(ADMIN_GET_FEATURES, 0, e -> e.set(U32, SQE_CDW10,
                SELECT_DEFAULT << FEATURE_SELECT_SHIFT | FEATURE_TEMPERATURE_THRESHOLD)).result()).isEqualTo(343);
        // Submission queues 5 and up were not granted.
        assertStatus(d.createSq(5, 16, 1, d.alloc(4096)), SC_INVALID_QUEUE_ID | STATUS_DNR);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 16);
        long data = d.alloc(8192);
        assertStatus(d.io(q, IO_WRITE, 1, 0, 16, d.iova(data), d.iova(data + 4096)), SC_SUCCESS);
        long log = d.alloc(4096);
        assertStatus(a.submit(ADMIN_GET_LOG_PAGE, BROADCAST_NSID, e -> {
            e.set(U64, SQE_PRP1, d.iova(log));
            e.set(U32, SQE_CDW10, 127 << 16 | LOG_SMART);
        }), SC_SUCCESS);
        MemorySegment smart = d.memory.asSlice(log, 512);
        assertThat(smart.get(ValueLayout.JAVA_SHORT_UNALIGNED, SMART_TEMPERATURE)).isEqualTo((short) LogPages.TEMPERATURE);
        assertThat(smart.get(ValueLayout.JAVA_BYTE, SMART_CRITICAL_WARNING)).as("over the 300 K threshold")
                .isEqualTo((byte) SMART_WARNING_TEMPERATURE);
        assertThat(smart.get(U64, SMART_HOST_WRITES)).isEqualTo(1);
        assertThat(smart.get(U64, SMART_DATA_UNITS_WRITTEN)).isEqualTo(1);
        assertStatus(a.submit(ADMIN_GET_LOG_PAGE, 0, e -> {
            e.set(U64, SQE_PRP1, d.iova(log));
            e.set(U32, SQE_CDW10, 127 << 16 | LOG_FIRMWARE_SLOT);
        }), SC_SUCCESS);
        assertThat(d.memory.get(ValueLayout.JAVA_BYTE, log + FW_LOG_AFI)).isEqualTo((byte) 1);
        assertThat(ascii(d.memory, (int) log + FW_LOG_FRS1, 8)).isEqualTo("1.2.3   ");
        // An Asynchronous Event Request stays outstanding; Abort answers "not aborted".
        int aer = a.put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        a.ring();
        assertThat(a.poll(Duration.ofMillis(200))).isNull();
        UserspaceNvmeDriver.Completion abort = a.submit(ADMIN_ABORT, 0, e -> e.set(U32, SQE_CDW10, aer << 16));
        assertStatus(abort, SC_SUCCESS);
        assertThat(abort.result() & 1).isEqualTo(1);
    }

    @Test
    void aFullCompletionQueueIsNeverOverrun() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 4);   // holds 3 completions
        long data = d.alloc(4096);
        int[] cids = new int[3];
        for (int i = 0; i < 3; i++) {
            cids[i] = q.put(IO_READ, 1, e -> {
                e.set(U64, SQE_PRP1, d.iova(data));
                e.set(U32, SQE_CDW12, 0);
            });
        }
        q.ring();
        // Watch the CQ memory: at most 3 entries (size - 1) appear before the host consumes any.
        Thread.sleep(200);
        int posted = 0;
        for (int i = 0; i < 4; i++) {
            posted += d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, q.cq + i * 16L + CQE_STATUS) & 1;
        }
        assertThat(posted).isEqualTo(3);
        for (int i = 0; i < 3; i++) {
            assertThat(q.poll(Duration.ofSeconds(5)).cid()).isEqualTo(cids[i]);
        }
        // Wrap the queues a few times: phases flip, nothing is lost.
        for (int i = 0; i < 10; i++) {
            assertStatus(d.io(q, IO_READ, 1, i, 1, d.iova(data), 0), SC_SUCCESS);
        }
    }

    @Test
    void disableDeletesTheQueuesAndShutdownCompletes() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        d.createIoQueue(1, 16);
        d.disable();
        assertThat(d.csts()).isZero();
        d.enable(32);
        // The old I/O queue is gone: a new one with the same id can be made.
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 16);
        long data = d.alloc(4096);
        assertStatus(d.io(q, IO_WRITE, 1, 0, 8, d.iova(data), 0), SC_SUCCESS);
        client.write32(0, REG_CC, client.read32(0, REG_CC) | 1 << CC_SHN_SHIFT);
        d.awaitCsts(CSTS_SHST_MASK, SHST_COMPLETE << CSTS_SHST_SHIFT);
        client.reset();
        assertThat(d.csts()).isZero();
        assertThat(client.read32(0, REG_CC)).isZero();
        d.enable(32);
        assertStatus(d.identify(CNS_CONTROLLER, 0, d.alloc(4096)), SC_SUCCESS);
    }

    @Test
    void intxSignalsCompletionsWithoutMsix() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        var intx = served.closeLater(client.interrupts(Vfio.PCI_INTX_IRQ_INDEX, 1));
        d.enable(32);
        long page = d.alloc(4096);
        d.admin().put(ADMIN_IDENTIFY, 0, e -> {
            e.set(U64, SQE_PRP1, d.iova(page));
            e.set(U32, SQE_CDW10, CNS_CONTROLLER);
        });
        d.admin().ring();
        assertThat(intx.await(0, Duration.ofSeconds(5))).as("INTx asserted").isTrue();
        assertThat(d.admin().poll(Duration.ofSeconds(1))).isNotNull();
    }

    @Test
    void aNullNamespaceReadsZerosWithFourKibBlocks() throws Exception {
        UserspaceNvmeDriver d = serve(NvmeController.builder().namespace(new NullStore(1 << 30)).blockSize(4096)
                .namespace(new NullStore(1 << 20)), false);
        d.enable(32);
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_NAMESPACE, 2, page), SC_SUCCESS);
        assertThat(d.memory.get(U64, page + ID_NS_NSZE)).isEqualTo(256);
        assertThat(d.memory.get(U32, page + ID_NS_LBAF0) >>> LBAF_LBADS_SHIFT & 0xff).isEqualTo(12);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 16);
        d.memory.asSlice(page, 4096).fill((byte) 0x5a);
        assertStatus(d.io(q, IO_WRITE, 1, 5, 1, d.iova(page), 0), SC_SUCCESS);
        assertStatus(d.io(q, IO_READ, 1, 5, 1, d.iova(page), 0), SC_SUCCESS);
        assertThat(d.memory.asSlice(page, 4096).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
        assertStatus(d.io(q, IO_READ, 2, 256, 1, d.iova(page), 0), SC_LBA_OUT_OF_RANGE | STATUS_DNR);
    }

    @Test
    void aNewClientFindsAControllerAtPowerOn() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        d.createIoQueue(1, 16);
        client.close();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (nvme.status() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(nvme.status()).isZero();
        VfioUserClient again = served.closeLater(VfioUserClient.connect(dir.resolve("nvme.sock")));
        UserspaceNvmeDriver d2 = served.closeLater(new UserspaceNvmeDriver(again, true));
        d2.enable(32);
        d2.createIoQueue(1, 16);
        assertStatus(d2.identify(CNS_CONTROLLER, 0, d2.alloc(4096)), SC_SUCCESS);
    }

    @Test
    void unreachableQueueMemoryIsAFatalStatusNotACrash() throws Exception {
        UserspaceNvmeDriver d = serve(false);
        client.write32(0, REG_AQA, 31 << AQA_ACQS_SHIFT | 31);
        client.write64(0, REG_ASQ, 0x7000_0000L);   // never mapped
        client.write64(0, REG_ACQ, d.iova(d.alloc(4096)));
        client.write32(0, REG_CC, CC_EN | SQES << CC_IOSQES_SHIFT | CQES << CC_IOCQES_SHIFT);
        assertThat(d.csts() & CSTS_RDY).isEqualTo(CSTS_RDY);
        client.write32(0, DOORBELLS, 1);
        d.awaitCsts(CSTS_CFS, CSTS_CFS);
        // The host resets the controller and carries on.
        d.enable(32);
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
        assertStatus(d.identify(CNS_CONTROLLER, 0, d.alloc(4096)), SC_SUCCESS);
    }

    @Test
    void doorbellValuesBeyondTheQueueAreIgnored() throws Exception {
        UserspaceNvmeDriver d = serve(true);
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 8);
        client.write32(0, DOORBELLS + 2 * 4, 8);            // SQ 1 tail = its size
        client.write32(0, DOORBELLS + 3 * 4, 5);            // CQ 1 head past its tail
        client.write32(0, DOORBELLS + 2 * 4 * 40, 1);       // a queue that does not exist
        client.write64(0, DOORBELLS + 2 * 4 * 64 + 4, 3);   // the last CQ doorbell, as a qword
        assertThat(q.poll(Duration.ofMillis(100))).as("nothing was submitted").isNull();
        long data = d.alloc(4096);
        for (int i = 0; i < 20; i++) {
            assertStatus(d.io(q, IO_READ, 1, i, 1, d.iova(data), 0), SC_SUCCESS);
        }
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }

    /**
     * Message-based DMA with completions consumed while others are being posted: a CQ head
     * doorbell must never wait for a poster whose DMA_WRITE waits for the session thread.
     */
    @Test
    void doorbellsDoNotWaitForCompletionsBeingPosted() throws Exception {
        UserspaceNvmeDriver d = serve(false);
        d.enableMsix(3);
        d.enable(32);
        // Completion queues smaller than the batches: posters wait for room the host frees meanwhile.
        UserspaceNvmeDriver.Queue[] queues = {d.createIoQueue(1, 32, 4), d.createIoQueue(2, 32, 4)};
        long data = d.alloc(4096);
        long start = System.nanoTime();
        for (int round = 0; round < 20; round++) {
            for (UserspaceNvmeDriver.Queue q : queues) {
                for (int i = 0; i < 16; i++) {
                    q.put(IO_READ, 1, e -> e.set(U64, SQE_PRP1, d.iova(data)));
                }
                q.ring();
            }
            for (UserspaceNvmeDriver.Queue q : queues) {
                for (int i = 0; i < 16; i++) {
                    UserspaceNvmeDriver.Completion c = q.poll(Duration.ofSeconds(20));
                    assertThat(c).as("round %d, queue %d, completion %d", round, q.id, i).isNotNull();
                    assertStatus(c, SC_SUCCESS);
                }
            }
        }
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }
}
