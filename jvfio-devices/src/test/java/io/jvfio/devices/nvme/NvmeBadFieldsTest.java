package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.NullStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every admin and I/O opcode with bad fields, over a real vfio-user socket: namespace ids, LBA
 * ranges, transfers beyond MDTS, reserved and unsupported CNS values, unknown features and log
 * pages, queue ids, sizes and flags, PRP offsets, list pointers and unreachable memory. Each
 * gets the status the specification names (with DNR unless retrying could help), the queue goes
 * on, and the controller stays ready. {@link NvmeFuzzTest} does the same with random fields.
 */
class NvmeBadFieldsTest {
    /** 1 GiB of 512-byte blocks: large enough that a transfer beyond MDTS is not out of range. */
    static final long BLOCKS = (1L << 30) / 512;
    static final Set<Integer> ADMIN_OPCODES = Set.of(ADMIN_DELETE_SQ, ADMIN_CREATE_SQ, ADMIN_GET_LOG_PAGE, ADMIN_DELETE_CQ,
            ADMIN_CREATE_CQ, ADMIN_IDENTIFY, ADMIN_ABORT, ADMIN_SET_FEATURES, ADMIN_GET_FEATURES, ADMIN_ASYNC_EVENT_REQUEST,
            ADMIN_DOORBELL_BUFFER_CONFIG);
    static final Set<Integer> IO_OPCODES = Set.of(IO_FLUSH, IO_WRITE, IO_READ, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT);

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue a, q;
    long page, data, list;

    /** A command: opcode, namespace, fields, and the status it must complete with. */
    record Case(String what, int opcode, int nsid, Consumer<MemorySegment> fields, int status) {}

    @BeforeEach
    void setUp() throws Exception {
        d = UserspaceNvmeDriver.serve(served, NvmeController.builder().namespace(new NullStore(BLOCKS * 512)).build(), true,
                UserspaceNvmeDriver.MEMORY_IOVA);
        a = d.enable(32);
        q = d.createIoQueue(1, 64);
        page = d.alloc(4096);
        data = d.alloc(1 << 20);
        list = d.alloc(4096);
    }

    static Consumer<MemorySegment> cdw(int cdw10, int cdw11) {
        return e -> {
            e.set(U32, SQE_CDW10, cdw10);
            e.set(U32, SQE_CDW11, cdw11);
        };
    }

    Consumer<MemorySegment> prps(long prp1, long prp2, int cdw10) {
        return e -> {
            e.set(U64, SQE_PRP1, prp1);
            e.set(U64, SQE_PRP2, prp2);
            e.set(U32, SQE_CDW10, cdw10);
        };
    }

    static Consumer<MemorySegment> rw(long slba, int nlb, long prp1, long prp2) {
        return e -> {
            e.set(U64, SQE_PRP1, prp1);
            e.set(U64, SQE_PRP2, prp2);
            e.set(U64, SQE_CDW10, slba);
            e.set(U32, SQE_CDW12, nlb - 1);
        };
    }

    static Consumer<MemorySegment> flags(int flags, Consumer<MemorySegment> fields) {
        return fields.andThen(e -> e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) flags));
    }

    void run(UserspaceNvmeDriver.Queue queue, List<Case> cases) throws Exception {
        for (Case c : cases) {
            UserspaceNvmeDriver.Completion completion = queue.submit(c.opcode(), c.nsid(), c.fields());
            assertThat(completion.status()).as(c.what()).isEqualTo(c.status() & 0x7ff);
            assertThat(completion.dnr()).as("DNR of " + c.what()).isEqualTo((c.status() & STATUS_DNR) != 0);
        }
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }

    @Test
    void adminCommandsWithBadFields() throws Exception {
        long cqBase = d.alloc(4096);
        int invalidField = SC_INVALID_FIELD | STATUS_DNR, invalidQueue = SC_INVALID_QUEUE_ID | STATUS_DNR;
        run(a, List.of(
                new Case("Identify CNS 06h (I/O command set controller)", ADMIN_IDENTIFY, 0, prps(d.iova(page), 0, 0x06),
                        invalidField),
                new Case("Identify CNS 04h", ADMIN_IDENTIFY, 1, prps(d.iova(page), 0, 0x04), invalidField),
                new Case("Identify CNS 10h", ADMIN_IDENTIFY, 1, prps(d.iova(page), 0, 0x10), invalidField),
                new Case("Identify CNS FFh", ADMIN_IDENTIFY, 1, prps(d.iova(page), 0, 0xff), invalidField),
                new Case("Identify namespace 0", ADMIN_IDENTIFY, 0, prps(d.iova(page), 0, CNS_NAMESPACE),
                        SC_INVALID_NAMESPACE | STATUS_DNR),
                new Case("Identify namespace FFFFFFFFh", ADMIN_IDENTIFY, BROADCAST_NSID, prps(d.iova(page), 0, CNS_NAMESPACE),
                        SC_INVALID_NAMESPACE | STATUS_DNR),
                new Case("Identify namespace 2 of 1", ADMIN_IDENTIFY, 2, prps(d.iova(page), 0, CNS_NAMESPACE),
                        SC_INVALID_NAMESPACE | STATUS_DNR),
                new Case("active namespaces after FFFFFFFEh", ADMIN_IDENTIFY, BROADCAST_NSID - 1,
                        prps(d.iova(page), 0, CNS_ACTIVE_NAMESPACES), SC_INVALID_NAMESPACE | STATUS_DNR),
                new Case("descriptors of namespace 9", ADMIN_IDENTIFY, 9, prps(d.iova(page), 0, CNS_NAMESPACE_DESCRIPTORS),
                        SC_INVALID_NAMESPACE | STATUS_DNR),
                new Case("Identify, PRP1 not dword aligned", ADMIN_IDENTIFY, 0, prps(d.iova(page) + 2, 0, CNS_CONTROLLER),
                        SC_PRP_OFFSET_INVALID | STATUS_DNR),
                new Case("Identify, PRP2 with an offset", ADMIN_IDENTIFY, 0,
                        prps(d.iova(page) + 0x800, d.iova(data) + 0x10, CNS_CONTROLLER), SC_PRP_OFFSET_INVALID | STATUS_DNR),
                new Case("Identify into unmapped memory", ADMIN_IDENTIFY, 0, prps(0x4000_0000L, 0, CNS_CONTROLLER),
                        SC_DATA_TRANSFER_ERROR),
                new Case("Identify across a page with PRP2", ADMIN_IDENTIFY, 0,
                        prps(d.iova(page) + 0x800, d.iova(data), CNS_CONTROLLER), SC_SUCCESS),
                new Case("log page 00h", ADMIN_GET_LOG_PAGE, 0, prps(d.iova(page), 0, 127 << 16), SC_INVALID_LOG_PAGE | STATUS_DNR),
                new Case("log page 06h", ADMIN_GET_LOG_PAGE, 0, prps(d.iova(page), 0, 127 << 16 | 0x06),
                        SC_INVALID_LOG_PAGE | STATUS_DNR),
                new Case("log page C0h", ADMIN_GET_LOG_PAGE, 0, prps(d.iova(page), 0, 127 << 16 | 0xc0),
                        SC_INVALID_LOG_PAGE | STATUS_DNR),
                new Case("SMART of namespace 1 (LPA bit 0 clear)", ADMIN_GET_LOG_PAGE, 1,
                        prps(d.iova(page), 0, 127 << 16 | LOG_SMART), invalidField),
                new Case("log offset not dword aligned", ADMIN_GET_LOG_PAGE, 0,
                        prps(d.iova(page), 0, 127 << 16 | LOG_SMART).andThen(e -> e.set(U32, SQE_CDW12, 2)), invalidField),
                new Case("log offset in the upper dword", ADMIN_GET_LOG_PAGE, 0,
                        prps(d.iova(page), 0, 127 << 16 | LOG_SMART).andThen(e -> e.set(U32, SQE_CDW13, 1)), invalidField),
                new Case("log longer than the page: truncated", ADMIN_GET_LOG_PAGE, 0,
                        prps(d.iova(page), 0, 0xffff << 16 | LOG_FIRMWARE_SLOT).andThen(e -> e.set(U32, SQE_CDW11, 0xffff)),
                        SC_SUCCESS),
                new Case("log into unmapped memory", ADMIN_GET_LOG_PAGE, 0, prps(0x4000_0000L, 0, 127 << 16 | LOG_SMART),
                        SC_DATA_TRANSFER_ERROR),
                new Case("Get Features 00h", ADMIN_GET_FEATURES, 0, cdw(0, 0), invalidField),
                new Case("Get Features 0Ch (APST)", ADMIN_GET_FEATURES, 0, cdw(0x0c, 0), invalidField),
                new Case("Get Features FFh", ADMIN_GET_FEATURES, 0, cdw(0xff, 0), invalidField),
                new Case("Get Features, saved value", ADMIN_GET_FEATURES, 0,
                        cdw(SELECT_SAVED << FEATURE_SELECT_SHIFT | FEATURE_ARBITRATION, 0), invalidField),
                new Case("Get Features, select 4", ADMIN_GET_FEATURES, 0, cdw(4 << FEATURE_SELECT_SHIFT | FEATURE_ARBITRATION, 0),
                        invalidField),
                new Case("Get temperature threshold of sensor 1", ADMIN_GET_FEATURES, 0, cdw(FEATURE_TEMPERATURE_THRESHOLD, 1 << 16),
                        invalidField),
                new Case("Get temperature threshold type 2", ADMIN_GET_FEATURES, 0, cdw(FEATURE_TEMPERATURE_THRESHOLD, 2 << 20),
                        invalidField),
                new Case("Get interrupt vector 65", ADMIN_GET_FEATURES, 0, cdw(FEATURE_INTERRUPT_VECTOR_CONFIG, 65), invalidField),
                new Case("Set Features 00h", ADMIN_SET_FEATURES, 0, cdw(0, 0), invalidField),
                new Case("Set Features 0Ch (APST)", ADMIN_SET_FEATURES, 0, cdw(0x0c, 0), invalidField),
                new Case("Set Features 80h", ADMIN_SET_FEATURES, 0, cdw(0x80, 0), invalidField),
                new Case("Set Features, save", ADMIN_SET_FEATURES, 0, cdw(FEATURE_SAVE | FEATURE_VOLATILE_WRITE_CACHE, 1),
                        SC_FEATURE_NOT_SAVEABLE | STATUS_DNR),
                new Case("Set temperature threshold of sensor 1", ADMIN_SET_FEATURES, 0,
                        cdw(FEATURE_TEMPERATURE_THRESHOLD, 1 << 16 | 300), invalidField),
                new Case("Set temperature threshold type 3", ADMIN_SET_FEATURES, 0,
                        cdw(FEATURE_TEMPERATURE_THRESHOLD, 3 << 20 | 300), invalidField),
                new Case("Set Error Recovery DULBE", ADMIN_SET_FEATURES, 0, cdw(FEATURE_ERROR_RECOVERY, 1 << 16), invalidField),
                new Case("Set power state 2", ADMIN_SET_FEATURES, 0, cdw(FEATURE_POWER_MANAGEMENT, 2), invalidField),
                new Case("Set a workload hint", ADMIN_SET_FEATURES, 0, cdw(FEATURE_POWER_MANAGEMENT, 1 << 5), invalidField),
                new Case("Set coalescing of the admin vector", ADMIN_SET_FEATURES, 0, cdw(FEATURE_INTERRUPT_VECTOR_CONFIG, 0),
                        invalidField),
                new Case("Set coalescing of vector 65", ADMIN_SET_FEATURES, 0, cdw(FEATURE_INTERRUPT_VECTOR_CONFIG, 65),
                        invalidField),
                new Case("Number of Queues 65536", ADMIN_SET_FEATURES, 0, cdw(FEATURE_NUMBER_OF_QUEUES, 0xffff << 16), invalidField),
                new Case("Number of Queues with I/O queues", ADMIN_SET_FEATURES, 0, cdw(FEATURE_NUMBER_OF_QUEUES, 0),
                        SC_COMMAND_SEQUENCE_ERROR),
                new Case("Create CQ FFFFh", ADMIN_CREATE_CQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 0xffff).andThen(
                        e -> e.set(U32, SQE_CDW11, 1)), invalidQueue),
                new Case("Create CQ 65 (beyond the granted 64)", ADMIN_CREATE_CQ, 0,
                        prps(d.iova(cqBase), 0, 15 << 16 | 65).andThen(e -> e.set(U32, SQE_CDW11, 1)), invalidQueue),
                new Case("Create CQ of one entry", ADMIN_CREATE_CQ, 0, prps(d.iova(cqBase), 0, 2).andThen(e -> e.set(U32, SQE_CDW11, 1)),
                        SC_INVALID_QUEUE_SIZE | STATUS_DNR),
                new Case("Create CQ of 65536 entries", ADMIN_CREATE_CQ, 0,
                        prps(d.iova(cqBase), 0, 0xffff << 16 | 2).andThen(e -> e.set(U32, SQE_CDW11, 1)),
                        SC_INVALID_QUEUE_SIZE | STATUS_DNR),
                new Case("Create CQ not contiguous", ADMIN_CREATE_CQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 2), invalidField),
                new Case("Create CQ on vector 1 without MSI-X", ADMIN_CREATE_CQ, 0,
                        prps(d.iova(cqBase), 0, 15 << 16 | 2).andThen(e -> e.set(U32, SQE_CDW11, 1 << 16 | 3)),
                        SC_INVALID_INTERRUPT_VECTOR | STATUS_DNR),
                new Case("Create CQ on vector 65", ADMIN_CREATE_CQ, 0,
                        prps(d.iova(cqBase), 0, 15 << 16 | 2).andThen(e -> e.set(U32, SQE_CDW11, 65 << 16 | 3)),
                        SC_INVALID_INTERRUPT_VECTOR | STATUS_DNR),
                new Case("Create CQ with an offset", ADMIN_CREATE_CQ, 0,
                        prps(d.iova(cqBase) + 0x200, 0, 15 << 16 | 2).andThen(e -> e.set(U32, SQE_CDW11, 1)),
                        SC_PRP_OFFSET_INVALID | STATUS_DNR),
                new Case("Create SQ FFFFh", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 0xffff).andThen(
                        e -> e.set(U32, SQE_CDW11, 1 << 16 | 1)), invalidQueue),
                new Case("Create SQ 1 again", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 1).andThen(
                        e -> e.set(U32, SQE_CDW11, 1 << 16 | 1)), invalidQueue),
                new Case("Create SQ on CQ FFFFh", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 2).andThen(
                        e -> e.set(U32, SQE_CDW11, 0xffff << 16 | 1)), SC_CQ_INVALID | STATUS_DNR),
                new Case("Create SQ on the admin CQ", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 2).andThen(
                        e -> e.set(U32, SQE_CDW11, 1)), SC_CQ_INVALID | STATUS_DNR),
                new Case("Create SQ of one entry", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase), 0, 2).andThen(
                        e -> e.set(U32, SQE_CDW11, 1 << 16 | 1)), SC_INVALID_QUEUE_SIZE | STATUS_DNR),
                new Case("Create SQ not contiguous", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase), 0, 15 << 16 | 2).andThen(
                        e -> e.set(U32, SQE_CDW11, 1 << 16)), invalidField),
                new Case("Create SQ with an offset", ADMIN_CREATE_SQ, 0, prps(d.iova(cqBase) + 64, 0, 15 << 16 | 2).andThen(
                        e -> e.set(U32, SQE_CDW11, 1 << 16 | 1)), SC_PRP_OFFSET_INVALID | STATUS_DNR),
                new Case("Delete SQ 0", ADMIN_DELETE_SQ, 0, cdw(0, 0), invalidQueue),
                new Case("Delete SQ FFFFh", ADMIN_DELETE_SQ, 0, cdw(0xffff, 0), invalidQueue),
                new Case("Delete SQ 2 (never created)", ADMIN_DELETE_SQ, 0, cdw(2, 0), invalidQueue),
                new Case("Delete CQ 0", ADMIN_DELETE_CQ, 0, cdw(0, 0), invalidQueue),
                new Case("Delete CQ FFFFh", ADMIN_DELETE_CQ, 0, cdw(0xffff, 0), invalidQueue),
                new Case("Delete CQ 1 (its SQ exists)", ADMIN_DELETE_CQ, 0, cdw(1, 0), SC_INVALID_QUEUE_DELETION | STATUS_DNR),
                new Case("Doorbell Buffer Config, buffers not page aligned", ADMIN_DOORBELL_BUFFER_CONFIG, 0,
                        prps(d.iova(page) + 8, d.iova(list), 0), invalidField),
                new Case("Doorbell Buffer Config, one buffer for both", ADMIN_DOORBELL_BUFFER_CONFIG, 0,
                        prps(d.iova(page), d.iova(page), 0), invalidField),
                new Case("Abort of a command long completed", ADMIN_ABORT, 0, cdw(1 << 16, 0), SC_SUCCESS),
                new Case("fused admin command", ADMIN_IDENTIFY, 0, flags(1, prps(d.iova(page), 0, CNS_CONTROLLER)), invalidField),
                new Case("admin command with an SGL", ADMIN_GET_LOG_PAGE, 0,
                        flags(PSDT_SGL << FLAGS_PSDT_SHIFT, prps(d.iova(page), 0, 127 << 16 | LOG_SMART)), invalidField),
                new Case("admin command with PSDT 11b", ADMIN_GET_FEATURES, 0,
                        flags(3 << FLAGS_PSDT_SHIFT, cdw(FEATURE_ARBITRATION, 0)), invalidField)));
    }

    @Test
    void ioCommandsWithBadFields() throws Exception {
        long mapped = d.iova(data);
        int outOfRange = SC_LBA_OUT_OF_RANGE | STATUS_DNR, invalidNamespace = SC_INVALID_NAMESPACE | STATUS_DNR;
        d.memory.set(U64, list, mapped + 4096);
        d.memory.set(U64, list + 8, mapped + 8192 + 0x200);   // an entry with an offset
        d.memory.set(U64, list + 16, mapped + 12288);
        List<Case> cases = new java.util.ArrayList<>();
        for (int opcode : new int[] {IO_READ, IO_WRITE}) {
            String name = opcode == IO_READ ? "Read" : "Write";
            cases.addAll(List.of(
                    new Case(name + " of namespace 0", opcode, 0, rw(0, 1, mapped, 0), invalidNamespace),
                    new Case(name + " of namespace 2 of 1", opcode, 2, rw(0, 1, mapped, 0), invalidNamespace),
                    new Case(name + " of namespace FFFFFFFFh", opcode, BROADCAST_NSID, rw(0, 1, mapped, 0), invalidNamespace),
                    new Case(name + " of the last block", opcode, 1, rw(BLOCKS - 1, 1, mapped, 0), SC_SUCCESS),
                    new Case(name + " past the last block", opcode, 1, rw(BLOCKS - 1, 2, mapped, mapped + 4096), outOfRange),
                    new Case(name + " at NSZE", opcode, 1, rw(BLOCKS, 1, mapped, 0), outOfRange),
                    new Case(name + " at a negative LBA", opcode, 1, rw(Long.MIN_VALUE, 1, mapped, 0), outOfRange),
                    new Case(name + " of 65536 blocks at the end", opcode, 1, rw(BLOCKS - 100, 65536, mapped, d.iova(list)),
                            outOfRange),
                    new Case(name + " of MDTS exactly: walked, to the list's bad entry", opcode, 1,
                            rw(0, 1024, mapped, d.iova(list)), SC_PRP_OFFSET_INVALID | STATUS_DNR),
                    new Case(name + " one block beyond MDTS", opcode, 1, rw(0, 1025, mapped, d.iova(list)),
                            SC_INVALID_FIELD | STATUS_DNR),
                    new Case(name + ", PRP1 not dword aligned", opcode, 1, rw(0, 1, mapped + 1, 0), SC_PRP_OFFSET_INVALID | STATUS_DNR),
                    new Case(name + ", PRP2 page with an offset", opcode, 1, rw(0, 16, mapped, mapped + 4096 + 512),
                            SC_PRP_OFFSET_INVALID | STATUS_DNR),
                    new Case(name + ", list pointer not qword aligned", opcode, 1, rw(0, 24, mapped, d.iova(list) + 4),
                            SC_PRP_OFFSET_INVALID | STATUS_DNR),
                    new Case(name + ", list entry with an offset", opcode, 1, rw(0, 24, mapped, d.iova(list)),
                            SC_PRP_OFFSET_INVALID | STATUS_DNR),
                    new Case(name + ", list in unmapped memory", opcode, 1, rw(0, 24, mapped, 0x4000_0000L), SC_DATA_TRANSFER_ERROR),
                    new Case(name + ", data in unmapped memory", opcode, 1, rw(0, 8, 0x4000_0000L, 0), SC_DATA_TRANSFER_ERROR),
                    new Case(name + ", data running off mapped memory", opcode, 1,
                            rw(0, 16, d.iova(UserspaceNvmeDriver.MEMORY_SIZE - 4096), d.iova(UserspaceNvmeDriver.MEMORY_SIZE)),
                            SC_DATA_TRANSFER_ERROR),
                    new Case(name + ", fused", opcode, 1, flags(1, rw(0, 1, mapped, 0)), SC_INVALID_FIELD | STATUS_DNR),
                    new Case(name + ", PSDT 10b", opcode, 1, flags(2 << FLAGS_PSDT_SHIFT, rw(0, 1, mapped, 0)),
                            SC_INVALID_FIELD | STATUS_DNR)));
        }
        cases.addAll(List.of(
                new Case("Flush of namespace 0", IO_FLUSH, 0, e -> { }, invalidNamespace),
                new Case("Flush of namespace 2 of 1", IO_FLUSH, 2, e -> { }, invalidNamespace),
                new Case("Flush of every namespace", IO_FLUSH, BROADCAST_NSID, e -> { }, SC_SUCCESS),
                new Case("Write Zeroes of namespace 0", IO_WRITE_ZEROES, 0, rw(0, 1, 0, 0), invalidNamespace),
                new Case("Write Zeroes past the end", IO_WRITE_ZEROES, 1, rw(BLOCKS - 1, 2, 0, 0), outOfRange),
                new Case("Write Zeroes of 65536 blocks (no data: no MDTS)", IO_WRITE_ZEROES, 1, rw(0, 65536, 0, 0), SC_SUCCESS),
                new Case("Dataset Management of namespace 0", IO_DATASET_MANAGEMENT, 0, prps(mapped, 0, 0), invalidNamespace),
                new Case("Dataset Management, reserved CDW10 bits", IO_DATASET_MANAGEMENT, 1, prps(mapped, 0, 1 << 8),
                        SC_INVALID_FIELD | STATUS_DNR),
                new Case("Dataset Management, ranges in unmapped memory", IO_DATASET_MANAGEMENT, 1, prps(0x4000_0000L, 0, 0),
                        SC_DATA_TRANSFER_ERROR),
                new Case("Dataset Management, list not dword aligned", IO_DATASET_MANAGEMENT, 1, prps(mapped + 1, 0, 0),
                        SC_PRP_OFFSET_INVALID | STATUS_DNR)));
        run(q, cases);
        // A range past the end: checked before anything is deallocated.
        d.memory.set(U32, data + DSM_RANGE_LENGTH, 2);
        d.memory.set(U64, data + DSM_RANGE_SLBA, BLOCKS - 1);
        assertStatus(q.submit(IO_DATASET_MANAGEMENT, 1, prps(mapped, 0, 0).andThen(e -> e.set(U32, SQE_CDW11, DSM_DEALLOCATE))),
                outOfRange);
    }

    @Test
    void everyOpcodeNotImplementedIsAnInvalidOpcodeInBothSets() throws Exception {
        for (int opcode = 0; opcode < 256; opcode++) {
            if (!ADMIN_OPCODES.contains(opcode)) {
                assertStatus(a.submit(opcode, 1, e -> { }), SC_INVALID_OPCODE | STATUS_DNR);
            }
            if (!IO_OPCODES.contains(opcode)) {
                assertStatus(q.submit(opcode, 1, e -> { }), SC_INVALID_OPCODE | STATUS_DNR);
            }
        }
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }
}
