package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.MEMORY_IOVA;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.MEMORY_SIZE;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.Interrupts;
import io.jvfio.client.MappedRegion;
import io.jvfio.client.MigrationDriver;
import io.jvfio.client.VfioUserClient;
import io.jvfio.client.VfioUserException;
import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.DeviceMigration;
import io.jvfio.server.StateSection;
import io.jvfio.server.VfioException;
import io.jvfio.server.internal.MigrationStream;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The NVMe controller moved between two servers over their sockets ({@link MigrationDriver}, as
 * {@code jvfio migrate} runs it) while {@link UserspaceNvmeDriver} keeps using it. Both servers
 * open the same image (shared storage) and are given the driver's memory at the same IOVA, as the
 * two ends of a migration on one host are; the driver's queues stay where they are, only its
 * doorbells and interrupts move.
 */
class NvmeMigrationTest {
    static final long DISK = 8 << 20;
    static final int QID = 1, QUEUE_ENTRIES = 64, VECTORS = 2;
    /** 4 KiB a command: eight 512-byte blocks. */
    static final int CHUNK = 4096, CHUNKS = (int) (DISK / CHUNK), BLOCKS_PER_CHUNK = CHUNK / 512;
    /** Commands kept in flight: half the queue, so the completion queue never fills. */
    static final int SLOTS = QUEUE_ENTRIES / 2;
    /** The stream's device id of an NVMe controller. */
    private static final String STREAM_ID = NvmeController.class.getName()
            + " %04x:%04x".formatted(NvmeController.VENDOR_ID, NvmeController.DEVICE_ID);

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();

    NvmeController controller(Path image, long createSize) throws Exception {
        return controller(image, createSize, false);
    }

    NvmeController controller(Path image, long createSize, boolean polledDoorbells) throws Exception {
        NvmeController nvme = NvmeController.builder().namespace(BlockImage.open(image, createSize, false)).serial("MIGRATING")
                .polledDoorbells(polledDoorbells).build();
        served.closeLater(nvme::shutdown);
        return nvme;
    }

    static MigrationDriver.Result migrate(VfioUserClient from, VfioUserClient to) throws Exception {
        return new MigrationDriver(from, to, List.of(), MigrationDriver.Options.defaults().withMaxPreCopyRounds(2), p -> { }).migrate();
    }

    @Test
    void anIdleControllerMovesWithItsQueuesFeaturesAndEventRequests() throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK), b = controller(image, 0);
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, toA, toB));
        d.enableMsix(VECTORS);
        served.closeLater(d.msix);
        d.enable(32);
        assertStatus(setFeature(d, FEATURE_NUMBER_OF_QUEUES, 3 << 16 | 3), SC_SUCCESS);
        assertStatus(setFeature(d, FEATURE_ARBITRATION, 0x0302_0103), SC_SUCCESS);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        long data = d.alloc(CHUNK);
        d.memory.asSlice(data, CHUNK).fill((byte) 0x5a);
        assertStatus(d.io(q, IO_WRITE, 1, 80, BLOCKS_PER_CHUNK, d.iova(data), 0), SC_SUCCESS);
        int[] events = {d.admin().put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { }), d.admin().put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { })};
        d.admin().ring();
        awaitEventRequests(a, events);

        MigrationDriver.Result result = migrate(toA, toB);
        assertThat(result.deviceBytes()).isPositive();
        assertThat(toB.migrationState()).isEqualTo(MigrationState.RUNNING);
        d.moveTo(toB, served.closeLater(toB.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, VECTORS)));

        assertThat(b.status() & (CSTS_RDY | CSTS_CFS)).isEqualTo(CSTS_RDY);
        assertThat(b.asyncEvents().outstandingRequests()).as("event requests outstanding at the destination").containsExactly(events);
        assertThat(getFeature(d, FEATURE_ARBITRATION).result()).isEqualTo(0x0302_0103);
        assertThat(getFeature(d, FEATURE_NUMBER_OF_QUEUES).result()).isEqualTo(3 << 16 | 3);
        // The same queue, where it was: the data written through the source reads back through the destination.
        d.memory.asSlice(data, CHUNK).fill((byte) 0);
        assertStatus(d.io(q, IO_READ, 1, 80, BLOCKS_PER_CHUNK, d.iova(data), 0), SC_SUCCESS);
        assertThat(d.memory.asSlice(data, CHUNK).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x5a);
        // Four requests at most (AERL 3): two came along, two more fit, the fifth is refused.
        d.admin().put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        d.admin().put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        assertStatus(d.admin().submit(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { }), SC_AER_LIMIT_EXCEEDED | STATUS_DNR);
    }

    /**
     * Once the host stores its tails in the shadow slot, a trapped doorbell only wakes the worker: it
     * may arrive after later stores (a posted write), and its value would move the tail back. The
     * destination must know the host stores tails too — a late ring handled after the move (as a live
     * upgrade's successor handles the client's unhandled input first) must not rerun a lap of old entries.
     */
    @Test
    void aLateTrappedDoorbellAfterTheMoveDoesNotMoveTheTailBack() throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK), b = controller(image, 0);
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, toA, toB));
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        long shadow = d.alloc(4096), eventIdx = d.alloc(4096), data = d.alloc(CHUNK);
        assertStatus(d.admin().submit(ADMIN_DOORBELL_BUFFER_CONFIG, 0, e -> {
            e.set(U64, SQE_PRP1, d.iova(shadow));
            e.set(U64, SQE_PRP2, d.iova(eventIdx));
        }), SC_SUCCESS);
        long tailSlot = shadow + 2L * QID * DOORBELL_STRIDE;
        for (int i = 0; i < 4; i++) {
            readBlock(q, d, data, i);
        }
        VarHandle.fullFence();
        d.memory.set(U32, tailSlot, q.tail);
        q.ring();   // the source's worker takes tail 4 from the slot
        awaitCompletions(q, 4);

        migrate(toA, toB);
        d.moveTo(toB, null);
        toB.write32(UserspaceNvmeDriver.BAR, DOORBELLS + 2L * QID * DOORBELL_STRIDE, 2);   // the ring of tail 2, late
        int cid = readBlock(q, d, data, 4);
        VarHandle.fullFence();
        d.memory.set(U32, tailSlot, q.tail);
        q.ring();
        UserspaceNvmeDriver.Completion next = q.poll(Duration.ofSeconds(10));
        assertThat(next).isNotNull();
        assertThat(next.cid()).as("the completion after the late ring").isEqualTo(cid);
        assertStatus(next, SC_SUCCESS);
        assertThat(b.doorbellStatistics().ioCommands()).as("commands the destination took").isEqualTo(1);
    }

    private static int readBlock(UserspaceNvmeDriver.Queue q, UserspaceNvmeDriver d, long data, int block) {
        return q.put(IO_READ, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(data));
            e.set(U64, SQE_CDW10, block);
        });
    }

    private static void awaitCompletions(UserspaceNvmeDriver.Queue q, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            UserspaceNvmeDriver.Completion c = q.poll(Duration.ofSeconds(10));
            assertThat(c).as("completion %d of %d", i + 1, count).isNotNull();
            assertStatus(c, SC_SUCCESS);
        }
    }

    /**
     * A completion queue the host has filled and not yet released: its worker holds a finished
     * command it cannot post, and the host's head doorbell cannot come while the stop runs. The
     * worker gives the command back; the destination runs it again and every command completes once.
     */
    @Test
    void aStopWithAFullCompletionQueueGivesTheCommandBack() throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK), b = controller(image, 0);
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, toA, toB));
        d.enableMsix(VECTORS);
        served.closeLater(d.msix);
        d.enable(32);
        int cqEntries = 4, commands = 8;
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16, cqEntries);
        long data = d.alloc((long) commands * CHUNK);
        Set<Integer> cids = new HashSet<>();
        for (int i = 0; i < commands; i++) {
            d.memory.asSlice(data + (long) i * CHUNK, CHUNK).fill((byte) (0x10 + i));
            long address = d.iova(data + (long) i * CHUNK);
            int lba = i * BLOCKS_PER_CHUNK;
            cids.add(q.put(IO_WRITE, 1, e -> {
                e.set(U64, SQE_PRP1, address);
                e.set(U64, SQE_CDW10, lba);
                e.set(U32, SQE_CDW12, BLOCKS_PER_CHUNK - 1);
            }));
        }
        q.ring();
        // The completion queue fills (size - 1 entries), and the worker waits with the fourth command done.
        long lastEntry = q.cq + (long) (cqEntries - 2) * CQE_SIZE + CQE_STATUS;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, lastEntry) & 1) == 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, lastEntry) & 1).as("the completion queue filled").isOne();

        migrate(toA, toB);
        d.moveTo(toB, served.closeLater(toB.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, VECTORS)));
        Set<Integer> completed = new HashSet<>();
        for (int i = 0; i < commands; i++) {
            UserspaceNvmeDriver.Completion c = q.poll(Duration.ofSeconds(10));
            assertThat(c).as("completion %d of %d", i + 1, commands).isNotNull();
            assertStatus(c, SC_SUCCESS);
            assertThat(completed.add(c.cid())).as("command %d completed once", c.cid()).isTrue();
        }
        assertThat(completed).isEqualTo(cids);
        assertThat(q.poll(Duration.ofMillis(200))).as("a completion too many").isNull();
        long back = d.alloc(CHUNK);
        for (int i = 0; i < commands; i++) {
            assertStatus(d.io(q, IO_READ, 1, i * BLOCKS_PER_CHUNK, BLOCKS_PER_CHUNK, d.iova(back), 0), SC_SUCCESS);
            assertThat(d.memory.asSlice(back, CHUNK).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) (0x10 + i));
        }
    }

    @Test
    void aControllerNeverEnabledMovesToo() throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK), b = controller(image, 0);
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock");
        migrate(toA, toB);
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toB, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, false, toB));
        d.enable(32);
        assertStatus(d.io(d.createIoQueue(QID, 16), IO_READ, 1, 0, 1, d.iova(d.alloc(CHUNK)), 0), SC_SUCCESS);
    }

    @Test
    void aDestinationWithAnotherNamespaceRefusesTheStateAndTheSourceRunsOn() throws Exception {
        NvmeController a = controller(dir.resolve("a.img"), DISK), b = controller(dir.resolve("b.img"), DISK / 2);
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, toA, toB));
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        assertThatThrownBy(() -> migrate(toA, toB))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(toA.migrationState()).isEqualTo(MigrationState.RUNNING);
        assertStatus(d.io(q, IO_READ, 1, 0, 1, d.iova(d.alloc(CHUNK)), 0), SC_SUCCESS);
    }

    /** Namespaces attached at run time move when the destination has the same ones attached, on the same ids. */
    @Test
    void namespacesAttachedAtRunTimeMoveToADestinationWithTheSameAttached() throws Exception {
        Path image = dir.resolve("shared.img"), second = dir.resolve("second.img");
        NvmeController a = controllerWithRoom(image, DISK), b = controllerWithRoom(image, 0), c = controllerWithRoom(image, 0);
        for (NvmeController nvme : List.of(a, c)) {
            nvme.attachNamespace(new NullStore(DISK));
            nvme.attachNamespace(BlockImage.open(second, DISK, false));
            nvme.detachNamespace(2);   // namespace 2 inactive, 3 attached
        }
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock"), toC = served.serve(c, "c.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, toA, toB, toC));
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        long data = d.alloc(CHUNK);
        d.memory.asSlice(data, CHUNK).fill((byte) 0x77);
        assertStatus(d.io(q, IO_WRITE, 3, 8, BLOCKS_PER_CHUNK, d.iova(data), 0), SC_SUCCESS);

        // b has namespace 1 only: refused, and the source runs on.
        assertThatThrownBy(() -> migrate(toA, toB))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(toA.migrationState()).isEqualTo(MigrationState.RUNNING);
        migrate(toA, toC);
        d.moveTo(toC, null);
        d.memory.asSlice(data, CHUNK).fill((byte) 0);
        assertStatus(d.io(q, IO_READ, 3, 8, BLOCKS_PER_CHUNK, d.iova(data), 0), SC_SUCCESS);
        assertThat(d.memory.asSlice(data, CHUNK).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x77);
        assertStatus(d.io(q, IO_READ, 2, 8, BLOCKS_PER_CHUNK, d.iova(data), 0), SC_INVALID_NAMESPACE | STATUS_DNR);
    }

    /** NN 3, namespace 1 on {@code image}. */
    NvmeController controllerWithRoom(Path image, long createSize) throws Exception {
        NvmeController nvme = NvmeController.builder().namespace(BlockImage.open(image, createSize, false)).serial("MIGRATING")
                .maxNamespaces(3).build();
        served.closeLater(nvme::shutdown);
        return nvme;
    }

    /** {@code a} with an I/O queue pair, stopped, saved and running again: its state's sections by name, in stream order. */
    private Map<String, StateSection> savedWithAnIoQueue(NvmeController a) throws Exception {
        VfioUserClient toA = served.serve(a, "a.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, toA));
        d.enable(32);
        d.createIoQueue(QID, 16);
        DeviceMigration source = a.migration().orElseThrow();
        source.transition(MigrationState.STOP_COPY);
        Map<String, StateSection> sections = new java.util.LinkedHashMap<>(MigrationStream.decode(readAll(source), STREAM_ID));
        source.transition(MigrationState.RUNNING);
        return sections;
    }

    /** Streams whose NVMe sections are cut short or hold impossible queues: refused with EINVAL, nothing thrown past the core. */
    @Test
    void aTruncatedOrImpossibleStateIsRefused() throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK), b = controller(image, 0);
        Map<String, StateSection> sections = savedWithAnIoQueue(a);

        DeviceMigration destination = b.migration().orElseThrow();
        for (String name : List.of("nvme", "nvme.features", "nvme.queues", "nvme.events", "nvme.logs")) {
            byte[] bytes = sections.get(name).data();
            assertRefused(destination, STREAM_ID, sections, new StateSection(name, sections.get(name).version(), Arrays.copyOf(bytes, bytes.length - 1)));
        }
        // After the count, each completion queue takes 26 bytes, its id first: the second one says 0 again.
        byte[] queues = sections.get("nvme.queues").data().clone();
        int cqEntry = 2 + 8 + 2 + 1 + 2 + 2 + 2 + 1 + 1 + 4 + 1;
        queues[1 + cqEntry] = 0;
        assertRefused(destination, STREAM_ID, sections, new StateSection("nvme.queues", sections.get("nvme.queues").version(), queues));
        assertRefused(destination, STREAM_ID, sections, new StateSection("nvme", 2, sections.get("nvme").data()));
        assertThat(b.status()).as("the destination untouched").isZero();
        destination.reset();
    }

    /** A stream from a jvfio before nvme.queues version 2 (a live upgrade from it): loads, its submission queues without the flag. */
    @Test
    void aVersion1QueueSectionStillLoads() throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK), b = controller(image, 0);
        Map<String, StateSection> sections = savedWithAnIoQueue(a);

        StateSection queues = sections.get("nvme.queues");
        assertThat(queues.version()).isEqualTo(2);
        byte[] v2 = queues.data();
        int cqEntry = 2 + 8 + 2 + 1 + 2 + 2 + 2 + 1 + 1 + 4 + 1, sqEntryV1 = 2 + 8 + 2 + 2 + 2 + 2 + 1 + 4;
        int sqCountAt = 1 + v2[0] * cqEntry, sqCount = v2[sqCountAt];
        ByteArrayOutputStream v1 = new ByteArrayOutputStream();
        v1.write(v2, 0, sqCountAt + 1);
        for (int i = 0; i < sqCount; i++) {
            int at = sqCountAt + 1 + i * (sqEntryV1 + 1);
            assertThat(v2[at + sqEntryV1]).as("no shadow tails here").isZero();
            v1.write(v2, at, sqEntryV1);
        }
        assertThat(v1.size()).isEqualTo(v2.length - sqCount);
        sections.put("nvme.queues", new StateSection("nvme.queues", 1, v1.toByteArray()));

        MigrationStream.Encoder encoder = new MigrationStream.Encoder();
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        stream.writeBytes(encoder.header(STREAM_ID));
        sections.values().forEach(section -> stream.writeBytes(encoder.section(section)));
        stream.writeBytes(encoder.end());
        DeviceMigration destination = b.migration().orElseThrow();
        destination.transition(MigrationState.RESUMING);
        destination.write(stream.toByteArray());
        destination.transition(MigrationState.STOP);
        assertThat(b.status() & CSTS_RDY).as("the destination took the controller up").isEqualTo(CSTS_RDY);
        destination.reset();
    }

    static byte[] readAll(DeviceMigration m) throws VfioException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] piece = m.read(1 << 16); piece.length > 0; piece = m.read(1 << 16)) {
            out.writeBytes(piece);
        }
        return out.toByteArray();
    }

    static void assertRefused(DeviceMigration destination, String id, Map<String, StateSection> sections, StateSection replaced)
            throws Exception {
        MigrationStream.Encoder encoder = new MigrationStream.Encoder();
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        stream.writeBytes(encoder.header(id));
        for (StateSection s : sections.values()) {
            stream.writeBytes(encoder.section(s.name().equals(replaced.name()) ? replaced : s));
        }
        stream.writeBytes(encoder.end());
        destination.transition(MigrationState.RESUMING);
        destination.write(stream.toByteArray());
        assertThatThrownBy(() -> destination.transition(MigrationState.STOP))
                .as("section %s changed", replaced.name())
                .isInstanceOfSatisfying(VfioException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(destination.state()).as("a refused stream leaves the destination resuming").isEqualTo(MigrationState.RESUMING);
    }

    static UserspaceNvmeDriver.Completion setFeature(UserspaceNvmeDriver d, int fid, int value) throws Exception {
        return d.admin().submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, fid);
            e.set(U32, SQE_CDW11, value);
        });
    }

    static UserspaceNvmeDriver.Completion getFeature(UserspaceNvmeDriver d, int fid) throws Exception {
        UserspaceNvmeDriver.Completion c = d.admin().submit(ADMIN_GET_FEATURES, 0, e -> e.set(U32, SQE_CDW10, fid));
        assertStatus(c, SC_SUCCESS);
        return c;
    }

    static void awaitEventRequests(NvmeController nvme, int[] cids) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (nvme.asyncEvents().outstandingRequests().length < cids.length && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(nvme.asyncEvents().outstandingRequests()).containsExactly(cids);
    }

    @ParameterizedTest(name = "memory shared by fd: {0}, shadow doorbells: {1}, polled doorbells: {2}")
    @CsvSource({"true, true, false", "false, false, false", "true, false, false", "true, false, true"})
    void everyCommandCompletesExactlyOnceAcrossAMigration(boolean byFd, boolean shadowDoorbells, boolean polled) throws Exception {
        Path image = dir.resolve("shared.img");
        NvmeController a = controller(image, DISK, polled), b = controller(image, 0, polled);
        VfioUserClient toA = served.serve(a, "a.sock"), toB = served.serve(b, "b.sock");
        UserspaceNvmeDriver d = new UserspaceNvmeDriver(toA, served.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, byFd, toA, toB));
        d.enableMsix(VECTORS);
        served.closeLater(d.msix);
        d.enable(32);
        IoDriver io = new IoDriver(d, d.createIoQueue(QID, QUEUE_ENTRIES), shadowDoorbells);
        // The destination's interrupts are wired before it runs, as a VMM does while loading.
        Interrupts onB = served.closeLater(toB.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, VECTORS));
        if (polled) {
            io.doorbellPage = served.closeLater(toA.mapRegion(UserspaceNvmeDriver.BAR));
        }
        io.start();
        try {
            io.awaitCompleted(300);
            AtomicInteger inFlightAtStop = new AtomicInteger(-1);
            new MigrationDriver(toA, toB, List.of(), MigrationDriver.Options.defaults().withMaxPreCopyRounds(2), p -> {
                if (p.phase() == MigrationDriver.Phase.STOP_COPY) {
                    inFlightAtStop.set(io.outstanding.get());
                }
            }).migrate();
            int completedOnA = io.completed.get();
            d.moveTo(toB, onB);
            if (polled) {
                // The VMM maps the destination's page; stores into the stopped source's page went nowhere and are rung again.
                io.doorbellPage = served.closeLater(toB.mapRegion(UserspaceNvmeDriver.BAR));
            }
            assertThat(toA.migrationState()).isEqualTo(MigrationState.STOP);
            assertThat(inFlightAtStop.get()).as("commands in flight when the source stopped").isPositive();
            io.awaitCompleted(completedOnA + 300);
        } finally {
            io.stop();
        }
        io.assertEveryCommandCompletedOnceAndIntact();
        assertThat(b.status() & CSTS_CFS).isZero();
        assertThat(b.doorbellStatistics().ioCommands()).as("commands fetched by the destination").isPositive();
        if (polled) {
            assertThat(a.polledDoorbells()).as("stores taken from the source's page").isPositive();
            assertThat(b.polledDoorbells()).as("stores taken from the destination's page").isPositive();
        }
        assertThat(Files.readAllBytes(image)).as("the image holds what the driver wrote through both").isEqualTo(io.model);
    }

    /**
     * Keeps {@link #SLOTS} 4 KiB reads and writes of random chunks in flight (never two on one
     * chunk), command id = slot, and checks each completion against a model of the disk. A
     * doorbell the stopped source refuses is rung again later, at whichever server has the
     * controller then; with nothing completing for 20 ms both doorbells are rung again.
     */
    static final class IoDriver {
        private final UserspaceNvmeDriver d;
        private final UserspaceNvmeDriver.Queue q;
        private final boolean shadowDoorbells;
        private final long shadow, eventIdx;
        private final Thread thread;
        /** The doorbell page mapped from the server that has the controller, with polled doorbells; else null. */
        volatile MappedRegion doorbellPage;
        final byte[] model = new byte[(int) DISK];
        private final long[] data = new long[SLOTS];
        private final int[] chunk = new int[SLOTS];
        private final boolean[] write = new boolean[SLOTS], busy = new boolean[SLOTS];
        private final SplittableRandom random = new SplittableRandom(15);
        final AtomicInteger submitted = new AtomicInteger(), completed = new AtomicInteger(), outstanding = new AtomicInteger();
        private int duplicates, statusErrors, readMismatches;
        private volatile boolean finishing;
        private volatile Throwable failure;

        IoDriver(UserspaceNvmeDriver d, UserspaceNvmeDriver.Queue q, boolean shadowDoorbells) throws Exception {
            this.d = d;
            this.q = q;
            this.shadowDoorbells = shadowDoorbells;
            this.shadow = d.alloc(4096);
            this.eventIdx = d.alloc(4096);
            for (int s = 0; s < SLOTS; s++) {
                data[s] = d.alloc(CHUNK);
            }
            if (shadowDoorbells) {
                assertStatus(d.admin().submit(ADMIN_DOORBELL_BUFFER_CONFIG, 0, e -> {
                    e.set(U64, SQE_PRP1, d.iova(shadow));
                    e.set(U64, SQE_PRP2, d.iova(eventIdx));
                }), SC_SUCCESS);
            }
            thread = Thread.ofPlatform().name("nvme-io-driver").unstarted(this::run);
        }

        void start() {
            thread.start();
        }

        void stop() throws InterruptedException {
            finishing = true;
            thread.join(30_000);
        }

        void assertEveryCommandCompletedOnceAndIntact() {
            assertThat(thread.isAlive()).as("driver thread done").isFalse();
            assertThat(failure).isNull();
            assertThat(completed.get()).isEqualTo(submitted.get());
            assertThat(duplicates).as("completions for no command in flight (done twice)").isZero();
            assertThat(statusErrors).as("commands that failed").isZero();
            assertThat(readMismatches).as("reads that returned other bytes than written").isZero();
        }

        void awaitCompleted(int count) throws Exception {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (completed.get() < count) {
                if (failure != null) {
                    throw new AssertionError("the driver failed", failure);
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("%d of %d commands completed (%d outstanding)".formatted(completed.get(), count, outstanding.get()));
                }
                Thread.sleep(5);
            }
        }

        private void run() {
            try {
                long lastProgress = System.nanoTime(), idleSince = lastProgress;
                int reapedFrom = q.head;
                while (!finishing || outstanding.get() > 0) {
                    if (!finishing) {
                        for (int s = 0; s < SLOTS; s++) {
                            if (!busy[s]) {
                                submit(s);
                            }
                        }
                    }
                    if (reapedFrom != q.head) {
                        // The head after the new commands: a doorbell the stopped source holds up leaves them in flight.
                        ring(2 * QID + 1, reapedFrom, q.head);
                        reapedFrom = q.head;
                    }
                    Interrupts msix = d.msix;
                    msix.await(QID, Duration.ofMillis(5));
                    if (reap() > 0) {
                        idleSince = lastProgress = System.nanoTime();
                    } else if (finishing && System.nanoTime() - lastProgress > 10_000_000_000L) {
                        throw new AssertionError(outstanding.get() + " commands never completed");
                    } else if (System.nanoTime() - idleSince > 20_000_000L) {
                        trapped(2 * QID, q.tail);   // a doorbell the stopped source swallowed
                        trapped(2 * QID + 1, q.head);
                        idleSince = System.nanoTime();
                    }
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        private void submit(int s) throws Exception {
            int c;
            do {
                c = random.nextInt(CHUNKS);
            } while (inFlight(c));
            boolean isWrite = random.nextBoolean();
            MemorySegment buffer = d.memory.asSlice(data[s], CHUNK);
            if (isWrite) {
                byte[] bytes = new byte[CHUNK];
                random.nextBytes(bytes);
                MemorySegment.copy(MemorySegment.ofArray(bytes), 0, buffer, 0, CHUNK);
                System.arraycopy(bytes, 0, model, c * CHUNK, CHUNK);   // no other command touches c meanwhile
            } else {
                buffer.fill((byte) 0xee);
            }
            long slba = (long) c * BLOCKS_PER_CHUNK;
            q.put(isWrite ? IO_WRITE : IO_READ, 1, e -> {
                e.set(ValueLayout.JAVA_SHORT_UNALIGNED, SQE_CID, (short) s);
                e.set(U64, SQE_PRP1, d.iova(data[s]));
                e.set(U64, SQE_CDW10, slba);
                e.set(U32, SQE_CDW12, BLOCKS_PER_CHUNK - 1);
            });
            chunk[s] = c;
            write[s] = isWrite;
            busy[s] = true;
            submitted.incrementAndGet();
            outstanding.incrementAndGet();
            ring(2 * QID, (q.tail - 1) & (QUEUE_ENTRIES - 1), q.tail);
        }

        private boolean inFlight(int c) {
            for (int s = 0; s < SLOTS; s++) {
                if (busy[s] && chunk[s] == c) {
                    return true;
                }
            }
            return false;
        }

        /** Linux's doorbell write: with shadow doorbells, store the value and ring only when EventIdx asks; a store in the mapped page with polled doorbells. */
        private void ring(int slot, int oldValue, int newValue) throws Exception {
            if (shadowDoorbells) {
                VarHandle.fullFence();
                d.memory.set(U32, shadow + (long) slot * DOORBELL_STRIDE, newValue);
                VarHandle.fullFence();
                int event = d.memory.get(U32, eventIdx + (long) slot * DOORBELL_STRIDE);
                if (!NvmeShadowDoorbellTest.needsRing(event, newValue, oldValue)) {
                    return;
                }
            }
            MappedRegion page = doorbellPage;
            if (page != null) {
                VarHandle.fullFence();
                page.segment(DOORBELLS + (long) slot * DOORBELL_STRIDE, 4).orElseThrow().set(U32, 0, newValue);
                return;
            }
            trapped(slot, newValue);
        }

        /** A trapped doorbell write at the server that has the controller now; one refused by a stopped source is rung again later. */
        private void trapped(int slot, int value) throws Exception {
            VarHandle.fullFence();
            try {
                d.client.write32(UserspaceNvmeDriver.BAR, DOORBELLS + (long) slot * DOORBELL_STRIDE, value);
            } catch (VfioUserException refused) {
                if (refused.errno() != Errno.EINVAL) {
                    throw refused;
                }
            }
        }

        /** Takes the completions posted (the head doorbell is rung after the next submissions); returns how many. */
        private int reap() {
            int n = 0;
            while (true) {
                long at = q.cq + (long) q.head * CQE_SIZE;
                int word = Short.toUnsignedInt(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_STATUS));
                if (((word & 1) != 0) != q.phase) {
                    break;
                }
                VarHandle.acquireFence();
                int s = Short.toUnsignedInt(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_CID));
                q.head = (q.head + 1) % QUEUE_ENTRIES;
                if (q.head == 0) {
                    q.phase = !q.phase;
                }
                n++;
                if (s >= SLOTS || !busy[s]) {
                    duplicates++;
                    continue;
                }
                busy[s] = false;
                if ((word >>> 1 & 0x7ff) != SC_SUCCESS) {
                    statusErrors++;
                } else if (!write[s] && MemorySegment.mismatch(MemorySegment.ofArray(model), (long) chunk[s] * CHUNK,
                        (long) chunk[s] * CHUNK + CHUNK, d.memory, data[s], data[s] + CHUNK) != -1) {
                    readMismatches++;
                }
                completed.incrementAndGet();
                outstanding.decrementAndGet();
            }
            return n;
        }
    }
}
