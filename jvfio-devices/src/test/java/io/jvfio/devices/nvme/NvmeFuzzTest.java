package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.DriverMemory;
import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.NullStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Thousands of seeded random commands through the real queues (host memory shared, and reached
 * by DMA messages), in batches over the admin queue
 * and two I/O queues: opcodes, namespace ids, LBAs and block counts, features, log pages, CNS
 * values, queue ids, sizes and flags, PSDT and FUSE bits, PRPs and SGLs pointing at random
 * lists and descriptors. Every command must complete exactly once, with a status the
 * specification defines for its command set (and DNR exactly when retrying cannot help), and
 * the controller must stay ready (no CFS) and keep serving.
 *
 * <p>The harness keeps two things out of the dice: its own queues live at an IOVA no random or
 * device-written value points to (so commands cannot scribble over them), and commands that
 * would change how those queues are served are only sent with fields that fail (Doorbell Buffer
 * Config, deleting queues 1 and 2); Asynchronous Event Requests, which complete only on events,
 * have their own test ({@link NvmeAsyncEventTest}).
 */
class NvmeFuzzTest {
    /** The driver's queues: high, with bytes no ASCII, small count or random address here makes. */
    static final long QUEUE_IOVA = 0x3d1c_5a00_0000_0000L;
    /** Where the random pointers point: lists, descriptors and data, in their own window. */
    static final long SCRATCH_IOVA = 0x1_0000_0000L, UNMAPPED_IOVA = 0x2000_0000_0000L;
    static final int SCRATCH_SIZE = 4 << 20, BATCHES = 1500;
    static final long BLOCKS = (256L << 20) / 512, SMALL_BLOCKS = 64;
    static final Set<Integer> RETRYABLE = Set.of(SC_DATA_TRANSFER_ERROR, SC_COMMAND_SEQUENCE_ERROR);
    static final Set<Integer> ANY_SET = Set.of(SC_SUCCESS, SC_INVALID_OPCODE, SC_INVALID_FIELD, SC_DATA_TRANSFER_ERROR,
            SC_INVALID_NAMESPACE, SC_PRP_OFFSET_INVALID);
    static final Set<Integer> ADMIN_ONLY = Set.of(SC_COMMAND_SEQUENCE_ERROR, SC_CQ_INVALID, SC_INVALID_QUEUE_ID,
            SC_INVALID_QUEUE_SIZE, SC_INVALID_INTERRUPT_VECTOR, SC_INVALID_LOG_PAGE, SC_INVALID_QUEUE_DELETION,
            SC_FEATURE_NOT_SAVEABLE);
    static final Set<Integer> IO_ONLY = Set.of(SC_LBA_OUT_OF_RANGE, SC_INVALID_SGL_SEGMENT_DESCRIPTOR,
            SC_INVALID_SGL_DESCRIPTOR_COUNT, SC_DATA_SGL_LENGTH_INVALID, SC_SGL_DESCRIPTOR_TYPE_INVALID);
    static final int[] ADMIN_OPCODES = {ADMIN_DELETE_SQ, ADMIN_CREATE_SQ, ADMIN_GET_LOG_PAGE, ADMIN_DELETE_CQ, ADMIN_CREATE_CQ,
            ADMIN_IDENTIFY, ADMIN_ABORT, ADMIN_SET_FEATURES, ADMIN_GET_FEATURES, ADMIN_DOORBELL_BUFFER_CONFIG};
    static final int[] IO_OPCODES = {IO_READ, IO_WRITE, IO_FLUSH, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT};

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    NvmeController nvme;
    UserspaceNvmeDriver d;
    MemorySegment scratch;
    Random random;

    @ParameterizedTest(name = "seed {0}, memory shared: {1}")
    @CsvSource({"15, true", "24301, true", "7, false"})
    void randomCommandsEachCompleteOnceWithADefinedStatus(long seed, boolean shared) throws Exception {
        random = new Random(seed);
        nvme = NvmeController.builder().namespace(new NullStore(BLOCKS * 512)).namespace(new NullStore(SMALL_BLOCKS * 512))
                .build();
        d = UserspaceNvmeDriver.serve(served, nvme, shared, QUEUE_IOVA);
        scratch = served.closeLater(new DriverMemory(d.client, SCRATCH_IOVA, SCRATCH_SIZE, shared)).segment();
        d.enableMsix(3);
        d.enable(32);
        UserspaceNvmeDriver.Queue[] queues = {d.admin(), d.createIoQueue(1, 64), d.createIoQueue(2, 64)};

        int commands = 0;
        for (int batch = 0; batch < BATCHES; batch++) {
            if (batch % 100 == 0) {
                scribble();
            }
            List<List<Integer>> cids = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
            int size = 1 + random.nextInt(8);
            for (int i = 0; i < size; i++) {
                int qi = random.nextInt(4) == 0 ? 0 : 1 + random.nextInt(2);
                UserspaceNvmeDriver.Queue queue = queues[qi];
                cids.get(qi).add(qi == 0 ? randomAdmin(queue) : randomIo(queue));
            }
            for (int qi = 0; qi < 3; qi++) {
                if (!cids.get(qi).isEmpty()) {
                    queues[qi].ring();
                }
            }
            for (int qi = 0; qi < 3; qi++) {
                Set<Integer> expected = new HashSet<>(cids.get(qi)), seen = new HashSet<>();
                for (int n = 0; n < cids.get(qi).size(); n++) {
                    UserspaceNvmeDriver.Completion c = queues[qi].poll(Duration.ofSeconds(10));
                    assertThat(c).as("batch %d, queue %d: completion %d of %s", batch, qi, n, expected).isNotNull();
                    assertThat(seen.add(c.cid())).as("batch %d: CID %d completed twice", batch, c.cid()).isTrue();
                    assertThat(c.sqId()).isEqualTo(qi);
                    assertDefined(c, qi == 0, batch);
                }
                assertThat(seen).isEqualTo(expected);
                commands += seen.size();
            }
            assertThat(d.csts() & CSTS_CFS).as("CFS after batch %d", batch).isZero();
        }
        assertThat(commands).isGreaterThan(5000);

        // Nothing more came, and every queue still serves: each probe's completion is the next entry.
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
        assertStatus(d.identify(CNS_CONTROLLER, 0, d.alloc(4096)), SC_SUCCESS);
        long page = d.alloc(4096);
        for (int qi = 1; qi <= 2; qi++) {
            assertStatus(d.io(queues[qi], IO_READ, 1, 0, 8, d.iova(page), 0), SC_SUCCESS);
        }
    }

    void assertDefined(UserspaceNvmeDriver.Completion c, boolean admin, int batch) {
        int status = c.status();
        assertThat(ANY_SET.contains(status) || (admin ? ADMIN_ONLY : IO_ONLY).contains(status))
                .as("batch %d: status 0x%x of CID %d on the %s queue", batch, status, c.cid(), admin ? "admin" : "I/O").isTrue();
        assertThat(c.dnr()).as("DNR of status 0x%x", status).isEqualTo(status != SC_SUCCESS && !RETRYABLE.contains(status));
    }

    // ------------------------------------------------------------------ random commands

    int randomAdmin(UserspaceNvmeDriver.Queue queue) {
        int opcode = random.nextInt(10) == 0 ? random.nextInt(256) : ADMIN_OPCODES[random.nextInt(ADMIN_OPCODES.length)];
        if (opcode == ADMIN_ASYNC_EVENT_REQUEST) {
            opcode = ADMIN_ABORT;   // an event request stays outstanding: NvmeAsyncEventTest
        }
        int op = opcode;
        return queue.put(op, nsid(), e -> {
            e.set(U64, SQE_PRP1, address());
            e.set(U64, SQE_PRP2, address());
            for (int n = 10; n <= 15; n++) {
                e.set(U32, SQE_CDW10 + 4L * (n - 10), random.nextInt(3) == 0 ? random.nextInt() : 0);
            }
            switch (op) {
                case ADMIN_IDENTIFY -> e.set(U32, SQE_CDW10, random.nextInt(3) == 0 ? random.nextInt(256) : random.nextInt(4));
                case ADMIN_GET_LOG_PAGE -> {
                    int lid = random.nextInt(3) == 0 ? random.nextInt(256) : 1 + random.nextInt(5);
                    e.set(U32, SQE_CDW10, random.nextInt(0x400) << 16 | (random.nextBoolean() ? LOG_RAE : 0) | lid);
                    e.set(U32, SQE_CDW12, random.nextInt(3) == 0 ? random.nextInt() : random.nextInt(8) * 4);
                    e.set(U32, SQE_CDW13, random.nextInt(8) == 0 ? 1 : 0);
                }
                case ADMIN_GET_FEATURES, ADMIN_SET_FEATURES -> {
                    int fid = random.nextInt(3) == 0 ? random.nextInt(256) : 1 + random.nextInt(11);
                    e.set(U32, SQE_CDW10, random.nextInt(8) << FEATURE_SELECT_SHIFT | (random.nextInt(8) == 0 ? FEATURE_SAVE : 0) | fid);
                    e.set(U32, SQE_CDW11, random.nextInt(2) == 0 ? random.nextInt() : random.nextInt(400));
                }
                case ADMIN_CREATE_CQ, ADMIN_CREATE_SQ -> {
                    e.set(U32, SQE_CDW10, queueSize() << 16 | queueId());
                    e.set(U32, SQE_CDW11, queueId() << 16 | random.nextInt(8));
                }
                case ADMIN_DELETE_SQ -> {
                    int qid = queueId();
                    e.set(U32, SQE_CDW10, qid == 1 || qid == 2 ? 0 : qid);   // the harness's own queues stay
                }
                case ADMIN_DELETE_CQ -> e.set(U32, SQE_CDW10, queueId());
                case ADMIN_DOORBELL_BUFFER_CONFIG -> {   // never valid: shadow tails from scratch would drive our queues
                    long buffer = SCRATCH_IOVA + 4096L * random.nextInt(SCRATCH_SIZE / 4096);
                    e.set(U64, SQE_PRP1, buffer | (random.nextBoolean() ? 8 : 0));
                    e.set(U64, SQE_PRP2, random.nextBoolean() ? buffer : buffer + 4);
                }
                default -> { }
            }
            flagBits(e);
        });
    }

    int randomIo(UserspaceNvmeDriver.Queue queue) {
        int opcode = random.nextInt(12) == 0 ? random.nextInt(256) : IO_OPCODES[random.nextInt(IO_OPCODES.length)];
        int nlb = switch (random.nextInt(6)) {
            case 0 -> random.nextInt(8);
            case 1 -> 1023 + random.nextInt(3);   // MDTS is 1024 blocks
            case 2 -> random.nextInt(0x10000);
            default -> random.nextInt(128);
        };
        long slba = switch (random.nextInt(6)) {
            case 0 -> BLOCKS - nlb - 1 + random.nextInt(3) - 1;
            case 1 -> SMALL_BLOCKS - nlb - 1 + random.nextInt(3) - 1;
            case 2 -> random.nextLong();
            default -> random.nextInt(4096);
        };
        return queue.put(opcode, nsid(), e -> {
            e.set(U64, SQE_CDW10, slba);
            e.set(U32, SQE_CDW12, nlb | (random.nextInt(4) == 0 ? random.nextInt() & ~0xffff : 0));
            e.set(U32, SQE_CDW13, random.nextInt(4) == 0 ? random.nextInt() : 0);
            if (opcode == IO_DATASET_MANAGEMENT) {
                e.set(U32, SQE_CDW10, random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(8));
                e.set(U32, SQE_CDW11, random.nextInt(8));
            }
            if (random.nextInt(3) == 0) {
                e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (PSDT_SGL << FLAGS_PSDT_SHIFT));
                int transfer = (nlb + 1) * 512;
                UserspaceNvmeDriver.sglDescriptor(e, SQE_PRP1, address(),
                        random.nextBoolean() ? transfer : 16 * random.nextInt(64), descriptorType());
            } else {
                e.set(U64, SQE_PRP1, address());
                e.set(U64, SQE_PRP2, address());
                flagBits(e);
            }
        });
    }

    /** Now and then a fused command or a data pointer type other than PRPs. */
    void flagBits(MemorySegment e) {
        if (random.nextInt(10) == 0) {
            e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) random.nextInt(256));
        }
    }

    int nsid() {
        return switch (random.nextInt(8)) {
            case 0 -> 0;
            case 1 -> BROADCAST_NSID;
            case 2 -> 3 + random.nextInt(3);
            case 3 -> random.nextInt();
            case 4 -> 2;
            default -> 1;
        };
    }

    int queueId() {
        return switch (random.nextInt(5)) {
            case 0 -> 0;
            case 1 -> random.nextInt(0x10000);
            default -> random.nextInt(70);
        };
    }

    int queueSize() {
        return switch (random.nextInt(4)) {
            case 0 -> random.nextInt(2);
            case 1 -> 1022 + random.nextInt(4);
            case 2 -> random.nextInt(0x10000);
            default -> random.nextInt(64);
        };
    }

    int descriptorType() {
        return random.nextInt(6) == 0 ? random.nextInt(16) : random.nextInt(4);
    }

    /** A host address: mostly in scratch (page, qword or byte aligned, or near its end), sometimes unmapped or anything. */
    long address() {
        long address = switch (random.nextInt(10)) {
            case 0, 1, 2 -> SCRATCH_IOVA + 4096L * random.nextInt(SCRATCH_SIZE / 4096);
            case 3, 4 -> SCRATCH_IOVA + 8L * random.nextInt(SCRATCH_SIZE / 8);
            case 5 -> SCRATCH_IOVA + random.nextInt(SCRATCH_SIZE);
            case 6 -> SCRATCH_IOVA + SCRATCH_SIZE - 4096L * random.nextInt(3);
            case 7 -> UNMAPPED_IOVA + 4096L * random.nextInt(1024);
            case 8 -> 0;
            default -> random.nextLong();
        };
        return Long.compareUnsigned(address - QUEUE_IOVA, UserspaceNvmeDriver.MEMORY_SIZE) < 0 ? 0 : address;
    }

    /** Fills scratch with noise, PRP entries and SGL descriptors, so walks follow lists and segments deep. */
    void scribble() {
        byte[] noise = new byte[SCRATCH_SIZE];
        random.nextBytes(noise);
        MemorySegment.copy(MemorySegment.ofArray(noise), 0, scratch, 0, SCRATCH_SIZE);
        for (int i = 0; i < 20_000; i++) {
            scratch.set(U64, 8L * random.nextInt(SCRATCH_SIZE / 8), address() & (random.nextInt(4) == 0 ? -1L : ~0xfffL));
            long at = 16L * random.nextInt(SCRATCH_SIZE / 16);
            int type = descriptorType();
            int length = type == SGL_SEGMENT || type == SGL_LAST_SEGMENT ? 16 * random.nextInt(40) : random.nextInt(1 << 17);
            UserspaceNvmeDriver.sglDescriptor(scratch, at, address() & (type >= SGL_SEGMENT ? ~0xfL : -1L), length, type);
        }
    }
}
