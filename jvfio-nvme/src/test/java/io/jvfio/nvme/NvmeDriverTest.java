package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The driver against jvfio's NVMe controller over a real socket: bring-up and Identify, I/O whose
 * data spans one page, two pages, a PRP list and the MDTS limit (checked in the image file, not
 * only through the driver), in memory shared by fd or reached by DMA messages, with doorbells
 * mapped or trapped and completions polled or by MSI-X; several threads with a queue each; errors
 * as NVMe statuses; the shutdown at close.
 */
class NvmeDriverTest {
    private static final int BAR = 0, CC = 0x14, CSTS = 0x1c;
    private static final int BLOCK = 512, NSID = 1;
    /** The controller's default MDTS 7: 4 KiB << 7. */
    private static final long MDTS_BYTES = 512 << 10;

    @TempDir
    Path dir;
    ServedNvme served;

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
    }

    private NvmeDriver open(NvmeDriver.Options options) throws Exception {
        return served.closeLater(NvmeDriver.open(served.client, options));
    }

    @Test
    void bringsTheControllerUpAndIdentifiesIt() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = open(NvmeDriver.Options.defaults());
        int cc = served.client.read32(BAR, CC);
        assertThat(cc & 1).as("CC.EN").isEqualTo(1);
        assertThat(cc >>> 16 & 0xf).as("CC.IOSQES").isEqualTo(6);
        assertThat(cc >>> 20 & 0xf).as("CC.IOCQES").isEqualTo(4);
        assertThat(cc >>> 7 & 0xf).as("CC.MPS").isZero();
        assertThat(cc >>> 4 & 0x7).as("CC.CSS").isZero();
        assertThat(served.client.read32(BAR, CSTS) & 3).as("CSTS: ready, no fatal status").isEqualTo(1);

        ControllerIdentity id = driver.controller();
        assertThat(id.serial()).isEqualTo("JVDRV0001");
        assertThat(id.model()).isEqualTo("jvfio driver test");
        assertThat(id.firmware()).isEqualTo("2.0");
        assertThat(id.mdts()).isEqualTo(7);
        assertThat(id.maxTransferBytes()).isEqualTo(MDTS_BYTES);
        assertThat(id.versionString()).isEqualTo("1.4.0");
        assertThat(id.vendorId()).isEqualTo(io.jvfio.devices.nvme.NvmeController.VENDOR_ID);
        assertThat(id.namespaceCount()).isEqualTo(1);
        assertThat(id.subsystemNqn()).startsWith("nqn.");
        assertThat(driver.maxTransferBytes()).isEqualTo(MDTS_BYTES);
        assertThat(driver.namespaces()).containsExactly(
                new Namespace(NSID, ServedNvme.DISK / BLOCK, ServedNvme.DISK / BLOCK, ServedNvme.DISK / BLOCK, BLOCK, 0, 0));
        assertThat(driver.ioQueueLimit()).isEqualTo(8);
    }

    @Test
    void findsEveryActiveNamespaceWithItsBlockSize() throws Exception {
        served = new ServedNvme(dir, b -> b.blockSize(4096).mdts(2), "a.img", "b.img", "c.img");
        NvmeDriver driver = open(NvmeDriver.Options.defaults());
        assertThat(driver.namespaces()).extracting(Namespace::nsid).containsExactly(1, 2, 3);
        assertThat(driver.namespaces()).allSatisfy(ns -> {
            assertThat(ns.blockSize()).isEqualTo(4096);
            assertThat(ns.sizeBytes()).isEqualTo(ServedNvme.DISK);
        });
        assertThat(driver.maxTransferBytes()).isEqualTo(16 << 10);

        IoQueue queue = driver.ioQueue();
        DmaRegion buffer = driver.allocateBuffer(64 << 10);
        fill(buffer.segment(), 64 << 10, 3);
        queue.write(3, 100, 16, buffer);   // four commands at the 16 KiB limit
        assertThat(served.imageBytes("c.img", 100 * 4096L, 64 << 10)).isEqualTo(buffer.segment().asSlice(0, 64 << 10)
                .toArray(ValueLayout.JAVA_BYTE));
        assertThat(served.imageBytes("a.img", 100 * 4096L, 4096)).containsOnly(0);
    }

    /**
     * Writes then reads back transfers whose data starts at {@code offset} in a page: within one
     * page, across two, with a PRP list, exactly at MDTS and beyond it (split by the blocking calls).
     */
    @ParameterizedTest(name = "shared memory {0}, mapped doorbells {1}, interrupts {2}, polled doorbells {3}")
    @CsvSource({"true, true, false, true", "true, true, true, true", "true, false, false, false", "false, true, false, true",
            "false, false, true, false"})
    void writesAndReadsAcrossPrpAndMdtsBoundaries(boolean shared, boolean mapped, boolean interrupts, boolean polledDoorbells)
            throws Exception {
        served = new ServedNvme(dir, b -> b.polledDoorbells(polledDoorbells), "disk.img");
        NvmeDriver driver = open(NvmeDriver.Options.defaults().withSharedMemory(shared).withMappedDoorbells(mapped)
                .withInterrupts(interrupts));
        assertThat(driver.doorbellsMapped()).isEqualTo(mapped && polledDoorbells);
        IoQueue queue = driver.ioQueue();
        long size = MDTS_BYTES * 2 + 8192;
        DmaRegion out = driver.allocateBuffer(size);
        DmaRegion in = driver.allocateBuffer(size);
        long lba = 0;
        int seed = 1;
        for (long offset : new long[] {0, 512, 4092}) {
            for (int blocks : new int[] {1, 8, 9, 16, 17, 24, 1024, 1025, 2048 + 7}) {
                long bytes = (long) blocks * BLOCK;
                if (offset + bytes > size) {
                    continue;
                }
                fill(out.segment().asSlice(offset), bytes, seed++);
                queue.write(NSID, lba, blocks, out.segment().asSlice(offset), out.iova() + offset);
                in.segment().fill((byte) 0);
                queue.read(NSID, lba, blocks, in.segment().asSlice(offset), in.iova() + offset);
                byte[] expected = out.segment().asSlice(offset, bytes).toArray(ValueLayout.JAVA_BYTE);
                assertThat(in.segment().asSlice(offset, bytes).toArray(ValueLayout.JAVA_BYTE))
                        .as("%d blocks at page offset %d", blocks, offset).isEqualTo(expected);
                assertThat(served.imageBytes("disk.img", lba * BLOCK, (int) bytes)).as("the image holds them")
                        .isEqualTo(expected);
                lba += blocks;
            }
        }
    }

    @Test
    void refusesOneCommandBeyondMdtsOrOutsideTheNamespace() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = open(NvmeDriver.Options.defaults());
        IoQueue queue = driver.ioQueue();
        DmaRegion buffer = driver.allocateBuffer(MDTS_BYTES + 4096);
        int atLimit = (int) (MDTS_BYTES / BLOCK);
        assertThatThrownBy(() -> queue.submitRead(NSID, 0, atLimit + 1, buffer, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("MDTS");
        assertThatThrownBy(() -> queue.submitRead(NSID, ServedNvme.DISK / BLOCK - 1, 2, buffer, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside namespace 1");
        assertThatThrownBy(() -> queue.submitRead(2, 0, 1, buffer, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("namespace 2 is not active");
        assertThatThrownBy(() -> queue.submitRead(NSID, 0, 8, buffer.segment().asSlice(0, 1024), buffer.iova(), 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("buffer");
        assertThat(queue.inFlight()).isZero();
        queue.submitRead(NSID, 0, atLimit, buffer, 7);
        List<Long> tags = new ArrayList<>();
        while (tags.isEmpty()) {
            queue.await((tag, status, result) -> {
                assertThat(status).isEqualTo(NvmeStatus.SUCCESS);
                tags.add(tag);
            }, java.time.Duration.ofSeconds(10));
        }
        assertThat(tags).containsExactly(7L);
    }

    @Test
    void anErrorStatusIsDecoded() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = open(NvmeDriver.Options.defaults());
        IoQueue queue = driver.ioQueue();
        DmaRegion buffer = driver.allocateBuffer(4096);
        long unmapped = 0x7000_0000_0000L;   // memory the device cannot reach
        assertThatThrownBy(() -> queue.read(NSID, 0, 8, buffer.segment(), unmapped))
                .isInstanceOfSatisfying(NvmeException.class, e -> {
                    assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_GENERIC);
                    assertThat(e.statusCode()).isEqualTo(0x04);   // Data Transfer Error
                    assertThat(e.getMessage()).contains("Read", "Data Transfer Error");
                });
        assertThat(queue.inFlight()).isZero();
        queue.read(NSID, 0, 8, buffer);   // the queue goes on
    }

    @Test
    void keepsManyCommandsInFlightAndHandsBackEveryTag() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = open(NvmeDriver.Options.defaults().withIoQueues(2, 64));
        IoQueue queue = driver.ioQueue();
        assertThat(queue.depth()).isEqualTo(63);
        int commands = 500;
        DmaRegion buffer = driver.allocateBuffer((long) queue.depth() * 4096);
        fill(buffer.segment(), buffer.size(), 9);
        Set<Long> completed = ConcurrentHashMap.newKeySet();
        int submitted = 0;
        while (completed.size() < commands) {
            while (submitted < commands && queue.inFlight() < queue.depth()) {
                long slotOffset = (submitted % queue.depth()) * 4096L;
                queue.submitWrite(NSID, submitted * 8L, 8, buffer.segment().asSlice(slotOffset), buffer.iova() + slotOffset,
                        1000 + submitted);
                submitted++;
            }
            queue.await((tag, status, result) -> {
                assertThat(status).as("status of tag %d", tag).isEqualTo(NvmeStatus.SUCCESS);
                assertThat(completed.add(tag)).as("tag %d completes once", tag).isTrue();
            }, java.time.Duration.ofSeconds(10));
        }
        assertThat(completed).hasSize(commands).allSatisfy(tag -> assertThat(tag).isBetween(1000L, 1000L + commands - 1));
        assertThatThrownBy(() -> {
            for (int i = 0; i <= queue.depth(); i++) {
                queue.submitRead(NSID, 0, 1, buffer, i);
            }
        }).isInstanceOf(IllegalStateException.class).hasMessageContaining("full");
    }

    @ParameterizedTest(name = "interrupts {0}")
    @CsvSource({"false", "true"})
    void severalThreadsEachDriveTheirOwnQueue(boolean interrupts) throws Exception {
        served = new ServedNvme(dir);
        int threads = 4;
        NvmeDriver driver = open(NvmeDriver.Options.defaults().withInterrupts(interrupts).withIoQueues(threads, 32));
        Set<Integer> queueIds = ConcurrentHashMap.newKeySet();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    IoQueue queue = driver.ioQueue();
                    assertThat(driver.ioQueue()).isSameAs(queue);
                    queueIds.add(queue.id());
                    DmaRegion out = driver.allocateBuffer(64 << 10), in = driver.allocateBuffer(64 << 10);
                    for (int round = 0; round < 20; round++) {
                        long lba = thread * 4096L + round * 128L;
                        fill(out.segment(), out.size(), thread * 100 + round);
                        queue.write(NSID, lba, 128, out);
                        queue.read(NSID, lba, 128, in);
                        assertThat(in.segment().mismatch(out.segment())).isEqualTo(-1);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        assertThat(queueIds).containsExactlyInAnyOrder(1, 2, 3, 4);
        assertThatThrownBy(driver::ioQueue).isInstanceOf(IllegalStateException.class).hasMessageContaining("taken");
    }

    @Test
    void completionsFireTheQueuesOwnVector() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = open(NvmeDriver.Options.defaults().withInterrupts(true));
        IoQueue queue = driver.ioQueue();
        QueuePair pair = queue.pair();
        assertThat(pair.vector()).isEqualTo(queue.id());
        DmaRegion buffer = driver.allocateBuffer(4096);
        pair.interrupts().poll(pair.vector());   // forget any earlier firing
        queue.submitRead(NSID, 0, 8, buffer, 1);
        assertThat(pair.interrupts().await(pair.vector(), java.time.Duration.ofSeconds(10))).as("MSI-X vector fired").isTrue();
        assertThat(queue.poll((tag, status, result) -> assertThat(tag).isEqualTo(1))).isEqualTo(1);
    }

    @Test
    void flushesZeroesAndDeallocates() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = open(NvmeDriver.Options.defaults());
        assertThat(driver.controller().supportsWriteZeroes()).isTrue();
        assertThat(driver.controller().supportsDatasetManagement()).isTrue();
        IoQueue queue = driver.ioQueue();
        DmaRegion buffer = driver.allocateBuffer(64 << 10);
        fill(buffer.segment(), buffer.size(), 5);
        queue.write(NSID, 0, 128, buffer);
        queue.flush(NSID);
        queue.writeZeroes(NSID, 16, 16);
        queue.deallocate(NSID, 64, 32);
        byte[] image = served.imageBytes("disk.img", 0, 128 * BLOCK);
        byte[] written = buffer.segment().toArray(ValueLayout.JAVA_BYTE);
        assertThat(java.util.Arrays.copyOfRange(image, 0, 16 * BLOCK)).isEqualTo(java.util.Arrays.copyOfRange(written, 0, 16 * BLOCK));
        assertThat(java.util.Arrays.copyOfRange(image, 16 * BLOCK, 32 * BLOCK)).containsOnly(0);
        assertThat(java.util.Arrays.copyOfRange(image, 32 * BLOCK, 64 * BLOCK))
                .isEqualTo(java.util.Arrays.copyOfRange(written, 32 * BLOCK, 64 * BLOCK));
        assertThat(java.util.Arrays.copyOfRange(image, 96 * BLOCK, 128 * BLOCK))
                .isEqualTo(java.util.Arrays.copyOfRange(written, 96 * BLOCK, 128 * BLOCK));
        assertThatThrownBy(() -> queue.writeZeroes(NSID, ServedNvme.DISK / BLOCK, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void closeDeletesTheQueuesAndShutsTheControllerDown() throws Exception {
        served = new ServedNvme(dir);
        NvmeDriver driver = NvmeDriver.open(served.client, NvmeDriver.Options.defaults());
        IoQueue queue = driver.ioQueue();
        queue.flush(NSID);
        driver.close();
        assertThatThrownBy(() -> queue.flush(NSID)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(served.client.read32(BAR, CC) >>> 14 & 3).as("CC.SHN").isEqualTo(1);
        assertThat(served.client.read32(BAR, CSTS) >>> 2 & 3).as("CSTS.SHST").isEqualTo(2);
        driver.close();   // idempotent
        assertThatThrownBy(driver::ioQueue).isInstanceOf(IllegalStateException.class);

        // A driver opened again disables the shut-down controller and brings it up anew.
        try (NvmeDriver again = NvmeDriver.open(served.client, NvmeDriver.Options.defaults())) {
            again.ioQueue().flush(NSID);
            assertThat(served.client.read32(BAR, CSTS) & 1).isEqualTo(1);
        }
    }

    private static void fill(MemorySegment segment, long bytes, int seed) {
        byte[] data = new byte[(int) bytes];
        new Random(seed).nextBytes(data);
        MemorySegment.copy(MemorySegment.ofArray(data), 0, segment, 0, bytes);
    }
}
