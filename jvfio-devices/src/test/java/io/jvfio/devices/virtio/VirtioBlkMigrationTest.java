package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.UserspaceVirtioDriver.MEMORY_IOVA;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.MEMORY_SIZE;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.QUEUE_SIZE;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.U32;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.U64;
import static io.jvfio.devices.virtio.Virtio.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.Interrupts;
import io.jvfio.client.MigrationDriver;
import io.jvfio.client.VfioUserClient;
import io.jvfio.client.VfioUserException;
import io.jvfio.devices.ServedDevices;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * virtio-blk moved between two servers while a userspace driver keeps block requests in flight.
 * The two servers share the disk image (shared storage) and the driver's memory (given to both
 * at the same IOVA — by fd, or reached through DMA messages), as the two ends of a migration on
 * one host do; the driver's rings stay where they are and only its doorbell and interrupts move.
 */
class VirtioBlkMigrationTest {
    static final long DISK = 8 << 20;
    static final int BLOCK = 4096, BLOCKS = (int) (DISK / BLOCK);
    static final long FEATURES = featureBit(F_VERSION_1) | featureBit(F_RING_EVENT_IDX) | featureBit(BLK_F_FLUSH);
    static final int VECTORS = 2, QUEUE_VECTOR = 1;
    /** Three descriptors a request (header, data, status): this many requests fit in the queue at once. */
    static final int SLOTS = QUEUE_SIZE / 3;

    @TempDir
    Path dir;
    private ServedDevices devices;

    @BeforeEach
    void setUp() {
        devices = new ServedDevices(dir);
    }

    @AfterEach
    void closeAll() throws Exception {
        devices.close();
    }

    private VirtioBlk disk(Path image, long createSize) throws IOException {
        VirtioBlk.Builder b = VirtioBlk.builder(image).serial("migrating");
        VirtioBlk disk = (createSize > 0 ? b.create(createSize) : b).build();
        devices.closeLater(disk::shutdown);
        return disk;
    }

    /** The driver's memory, given to {@code clients} at MEMORY_IOVA: one memfd mapped by all, or plain memory served by DMA messages. */
    private MemorySegment sharedMemory(boolean byFd, VfioUserClient... clients) throws IOException {
        return devices.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, byFd, clients);
    }

    /** Where the driver's doorbell and interrupts go: the source, then the destination. */
    record Endpoint(VfioUserClient client, Interrupts msix, AtomicInteger wakeUps) {
        Endpoint(VfioUserClient client, Interrupts msix) {
            this(client, msix, new AtomicInteger());
        }
    }

    @ParameterizedTest(name = "memory shared by fd: {0}")
    @ValueSource(booleans = {true, false})
    void everyRequestCompletesExactlyOnceAndTheImageMatches(boolean byFd) throws Exception {
        Path image = dir.resolve("shared.img");
        VirtioBlk a = disk(image, DISK), b = disk(image, 0);
        VfioUserClient toA = devices.serve(a, "a.sock"), toB = devices.serve(b, "b.sock");
        BlockDriver io = BlockDriver.start(toA, sharedMemory(byFd, toA, toB), devices);
        // The destination's interrupts are wired before it runs, as a VMM does while loading.
        Endpoint onB = new Endpoint(toB, devices.closeLater(toB.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, VECTORS)));
        try {
            io.awaitCompleted(200);
            AtomicInteger inFlightAtStop = new AtomicInteger(-1);
            MigrationDriver.Result result = new MigrationDriver(toA, toB, List.of(),
                    MigrationDriver.Options.defaults().withMaxPreCopyRounds(3), p -> {
                        if (p.phase() == MigrationDriver.Phase.STOP_COPY) {
                            inFlightAtStop.set(io.outstanding());
                        }
                    }).migrate();
            int completedOnA = io.completed();
            io.moveTo(onB);
            assertThat(toA.migrationState()).isEqualTo(MigrationState.STOP);
            assertThat(toB.migrationState()).isEqualTo(MigrationState.RUNNING);
            assertThat(result.deviceBytes()).isPositive();
            assertThat(inFlightAtStop.get()).as("requests in flight when the source stopped").isPositive();

            io.awaitCompleted(completedOnA + 200);
        } finally {
            io.stop();
        }
        io.assertEveryRequestCompletedOnceAndIntact();
        assertThat(onB.wakeUps().get()).as("queue interrupts from the destination").isPositive();
        // Shared storage: the one image holds exactly what the driver wrote, through A and then B.
        assertThat(sha256(Files.readAllBytes(image))).isEqualTo(sha256(io.expectedImage()));
    }

    @Test
    void aDestinationDiskOfAnotherSizeRefusesTheStateAndTheSourceRunsOn() throws Exception {
        VirtioBlk a = disk(dir.resolve("a.img"), DISK), b = disk(dir.resolve("b.img"), DISK / 2);
        VfioUserClient toA = devices.serve(a, "a.sock"), toB = devices.serve(b, "b.sock");
        BlockDriver io = BlockDriver.start(toA, sharedMemory(true, toA, toB), devices);
        try {
            io.awaitCompleted(50);
            assertThatThrownBy(() -> new MigrationDriver(toA, toB, List.of(), MigrationDriver.Options.defaults(), p -> { }).migrate())
                    .isInstanceOf(VfioUserException.class)
                    .satisfies(e -> assertThat(((VfioUserException) e).errno()).isEqualTo(Errno.EINVAL));
            assertThat(toA.migrationState()).isEqualTo(MigrationState.RUNNING);
            int before = io.completed();
            io.awaitCompleted(before + 50); // the source carries on
        } finally {
            io.stop();
        }
        io.assertEveryRequestCompletedOnceAndIntact();
        assertThat(sha256(Files.readAllBytes(dir.resolve("a.img")))).isEqualTo(sha256(io.expectedImage()));
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /**
     * Keeps {@link #SLOTS} 4 KiB reads and writes of random blocks in flight (never two on one
     * block), each with its own descriptors and buffers, and checks every completion against a
     * model of the disk. A doorbell the stopped source refuses is rung again at the destination;
     * with nothing completing for 20 ms the doorbell is rung again (a notification the stopped
     * source swallowed).
     */
    static final class BlockDriver {
        private final UserspaceVirtioDriver d;
        private final UserspaceVirtioDriver.Queue q;
        private final AtomicReference<Endpoint> endpoint = new AtomicReference<>();
        private final Thread thread;
        private final byte[] model = new byte[(int) DISK];
        private final long[] header = new long[SLOTS], data = new long[SLOTS], status = new long[SLOTS];
        private final int[] block = new int[SLOTS];
        private final boolean[] write = new boolean[SLOTS], busy = new boolean[SLOTS];
        private final SplittableRandom random = new SplittableRandom(7);
        private final AtomicInteger submitted = new AtomicInteger(), completed = new AtomicInteger(), outstanding = new AtomicInteger();
        private int duplicates, statusErrors, readMismatches;
        private int lastUsed;
        private volatile boolean finishing;
        private volatile Throwable failure;

        private BlockDriver(UserspaceVirtioDriver d, UserspaceVirtioDriver.Queue q) {
            this.d = d;
            this.q = q;
            endpoint.set(new Endpoint(d.client, d.msix));
            for (int s = 0; s < SLOTS; s++) {
                header[s] = d.alloc(BLK_REQ_HEADER_SIZE);
                data[s] = d.alloc(BLOCK);
                status[s] = d.alloc(1);
            }
            thread = Thread.ofPlatform().name("block-driver").unstarted(this::run);
        }

        /** Brings the device on {@code source} up (EVENT_IDX, MSI-X, one queue) over {@code memory} and starts the I/O. */
        static BlockDriver start(VfioUserClient source, MemorySegment memory, ServedDevices devices) throws IOException {
            UserspaceVirtioDriver d = new UserspaceVirtioDriver(source, memory);
            assertThat(d.negotiate(FEATURES)).isTrue();
            d.enableMsix(VECTORS);
            devices.closeLater(d.msix);
            UserspaceVirtioDriver.Queue q = d.setUpQueue(0);
            d.driverOk();
            BlockDriver io = new BlockDriver(d, q);
            io.thread.start();
            return io;
        }

        /** From now on the doorbell rings at, and interrupts come from, {@code to}. */
        void moveTo(Endpoint to) {
            endpoint.set(to);
        }

        /** Submits no more and waits until every request in flight has completed (or the driver gave up on them). */
        void stop() throws InterruptedException {
            finishing = true;
            thread.join(30_000);
        }

        void assertEveryRequestCompletedOnceAndIntact() throws Exception {
            assertThat(thread.isAlive()).as("driver thread done").isFalse();
            rethrow();
            assertThat(submitted.get()).isEqualTo(completed.get());
            assertThat(duplicates).as("completions for no request in flight (done twice)").isZero();
            assertThat(statusErrors).as("requests that failed").isZero();
            assertThat(readMismatches).as("reads that returned other bytes than written").isZero();
        }

        private void run() {
            try {
                long idleSince = System.nanoTime(), lastProgress = idleSince;
                while (!finishing || outstanding.get() > 0) {
                    boolean rang = false;
                    if (!finishing) {
                        for (int s = 0; s < SLOTS; s++) {
                            if (!busy[s]) {
                                submit(s);
                                rang = true;
                            }
                        }
                    }
                    if (rang) {
                        ring();
                    }
                    Endpoint e = endpoint.get();
                    if (e.msix().await(QUEUE_VECTOR, Duration.ofMillis(5))) {
                        e.wakeUps().incrementAndGet();
                    }
                    if (reap() > 0) {
                        idleSince = lastProgress = System.nanoTime();
                    } else if (finishing && System.nanoTime() - lastProgress > 5_000_000_000L) {
                        throw new AssertionError(outstanding.get() + " requests never completed");
                    } else if (System.nanoTime() - idleSince > 20_000_000L) {
                        ring();
                        idleSince = System.nanoTime();
                    }
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        private void submit(int s) {
            int b;
            do {
                b = random.nextInt(BLOCKS);
            } while (inFlight(b));
            boolean isWrite = random.nextBoolean();
            MemorySegment m = d.memory;
            m.set(U32, header[s] + BLK_REQ_TYPE, isWrite ? BLK_T_OUT : BLK_T_IN);
            m.set(U64, header[s] + BLK_REQ_SECTOR, (long) b * (BLOCK / SECTOR_SIZE));
            m.set(ValueLayout.JAVA_BYTE, status[s], (byte) 0xff);
            if (isWrite) {
                byte[] bytes = new byte[BLOCK];
                random.nextBytes(bytes);
                MemorySegment.copy(MemorySegment.ofArray(bytes), 0, m, data[s], BLOCK);
                System.arraycopy(bytes, 0, model, b * BLOCK, BLOCK);  // no other request touches b meanwhile
            } else {
                m.asSlice(data[s], BLOCK).fill((byte) 0xee);
            }
            int head = 3 * s;
            q.descriptorAt(head, d.iova(header[s]), BLK_REQ_HEADER_SIZE, DESC_F_NEXT, head + 1);
            q.descriptorAt(head + 1, d.iova(data[s]), BLOCK, DESC_F_NEXT | (isWrite ? 0 : DESC_F_WRITE), head + 2);
            q.descriptorAt(head + 2, d.iova(status[s]), 1, DESC_F_WRITE, 0);
            block[s] = b;
            write[s] = isWrite;
            busy[s] = true;
            q.makeAvailable(head);
            submitted.incrementAndGet();
            outstanding.incrementAndGet();
        }

        private boolean inFlight(int b) {
            for (int s = 0; s < SLOTS; s++) {
                if (busy[s] && block[s] == b) {
                    return true;
                }
            }
            return false;
        }

        /** The doorbell, at whichever server now has the device; refused while the source is in STOP_COPY. */
        private void ring() throws IOException {
            Endpoint e = endpoint.get();
            long at = d.capOffsets.get(PCI_CAP_NOTIFY_CFG) + (long) q.index * d.notifyMultiplier();
            try {
                e.client().write16(d.notifyBar, at, q.index);
            } catch (VfioUserException refused) {
                if (refused.errno() != Errno.EINVAL) {
                    throw refused;
                }
                // the device is between servers: the next ring goes to whichever has it then
            }
        }

        /** Takes the used entries the device published; returns how many. */
        private int reap() {
            int usedIdx = q.usedIdx();
            int n = 0;
            while (lastUsed != usedIdx) {
                int id = q.usedId(lastUsed);
                lastUsed = (lastUsed + 1) & 0xffff;
                n++;
                int s = id / 3;
                if (id % 3 != 0 || s >= SLOTS || !busy[s]) {
                    duplicates++; // a completion for no request in flight: done twice (or invented)
                    continue;
                }
                busy[s] = false;
                if (d.memory.get(ValueLayout.JAVA_BYTE, status[s]) != BLK_S_OK) {
                    statusErrors++;
                } else if (!write[s] && MemorySegment.mismatch(MemorySegment.ofArray(model), (long) block[s] * BLOCK,
                        (long) block[s] * BLOCK + BLOCK, d.memory, data[s], data[s] + BLOCK) != -1) {
                    readMismatches++;
                }
                completed.incrementAndGet();
                outstanding.decrementAndGet();
            }
            q.interruptAfter(lastUsed); // EVENT_IDX: an interrupt for the next completion
            return n;
        }

        void awaitCompleted(int count) throws Exception {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (completed.get() < count) {
                rethrow();
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("%d of %d requests completed (%d outstanding)".formatted(completed.get(), count, outstanding.get()));
                }
                Thread.sleep(5);
            }
        }

        private void rethrow() throws Exception {
            Throwable t = failure;
            if (t instanceof Exception e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
        }

        int completed() {
            return completed.get();
        }

        int outstanding() {
            return outstanding.get();
        }

        byte[] expectedImage() {
            return model.clone();
        }
    }
}
