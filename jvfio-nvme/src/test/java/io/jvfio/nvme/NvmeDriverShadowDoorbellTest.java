package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.nvme.DoorbellStatistics;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Shadow doorbells against jvfio's controller with trapped doorbells (not offered for mapping), so
 * the server counts every register write: with Doorbell Buffer Config the I/O queues' tails go to
 * the shadow buffer and only a few of them ring; the data still arrives (checked on both sides). Without them, or
 * when the controller does not offer them, every command rings.
 */
class NvmeDriverShadowDoorbellTest {
    private static final int NSID = 1, BLOCKS = 8, COMMANDS = 2048, DEPTH = 32;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private int failures;
    private final CompletionListener countFailures = (tag, status, result) -> failures += status == 0 ? 0 : 1;

    @ParameterizedTest(name = "shared memory {0}, interrupts {1}")
    @CsvSource({"true, false", "true, true", "false, false"})
    void fewDoorbellsAreTrappedAndTheDataArrives(boolean shared, boolean interrupts) throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            DoorbellStatistics stats = served.controller.doorbellStatistics();
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults().withSharedMemory(shared).withInterrupts(interrupts));
            assertThat(driver.shadowDoorbells()).isTrue();
            assertThat(driver.doorbellsMapped()).as("every register write is trapped and counted").isFalse();
            assertThat(stats.shadowConfigurations()).isEqualTo(1);
            IoQueue queue = driver.ioQueue();
            long bytesPerCommand = BLOCKS * 512L;
            DmaRegion out = driver.allocateBuffer(DEPTH * bytesPerCommand);
            DmaRegion in = driver.allocateBuffer(DEPTH * bytesPerCommand);
            byte[] pattern = new byte[(int) out.size()];
            new Random(7).nextBytes(pattern);
            MemorySegment.copy(MemorySegment.ofArray(pattern), 0, out.segment(), 0, pattern.length);

            long trappedBefore = stats.trappedSubmissionDoorbells(), commandsBefore = stats.ioCommands();
            runAtDepth(queue, out, true);
            runAtDepth(queue, in, false);
            long commands = stats.ioCommands() - commandsBefore;
            long trapped = stats.trappedSubmissionDoorbells() - trappedBefore;

            assertThat(failures).isZero();
            assertThat(commands).isEqualTo(2 * COMMANDS);
            assertThat(trapped).as("trapped tail doorbells for %d commands", commands).isPositive().isLessThan(commands / 4);
            if (interrupts) {   // with MSI-X the controller asks for heads only when a completion queue fills up
                assertThat(stats.trappedCompletionDoorbells()).as("trapped head doorbells").isLessThan(commands / 4);
            }
            assertThat(in.segment().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(pattern);
            assertThat(served.imageBytes("disk.img", 0, (int) bytesPerCommand)).as("range 0 holds slot 0")
                    .isEqualTo(java.util.Arrays.copyOf(pattern, (int) bytesPerCommand));
        }
    }

    /**
     * {@link #COMMANDS} writes (or reads) of {@link #BLOCKS} blocks, {@link #DEPTH} in flight,
     * command i with slot i % DEPTH of the buffer. Writes go round 4·DEPTH ranges, range k from
     * slot k % DEPTH; reads take slot s from range 3·DEPTH + s, whatever order they complete in.
     */
    private void runAtDepth(IoQueue queue, DmaRegion buffer, boolean write) throws Exception {
        long bytes = BLOCKS * 512L;
        for (int i = 0; i < COMMANDS; i++) {
            while (queue.inFlight() == DEPTH) {
                queue.await(countFailures, WAIT);
            }
            int slot = i % DEPTH;
            long lba = (long) (write ? i % (DEPTH * 4) : DEPTH * 3 + slot) * BLOCKS;
            var data = buffer.segment().asSlice(slot * bytes, bytes);
            if (write) {
                queue.submitWrite(NSID, lba, BLOCKS, data, buffer.iova() + slot * bytes, i);
            } else {
                queue.submitRead(NSID, lba, BLOCKS, data, buffer.iova() + slot * bytes, i);
            }
        }
        while (queue.inFlight() > 0) {
            queue.await(countFailures, WAIT);
        }
    }

    @Test
    void withoutShadowDoorbellsEveryCommandRings() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            DoorbellStatistics stats = served.controller.doorbellStatistics();
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults().withShadowDoorbells(false));
            assertThat(driver.shadowDoorbells()).isFalse();
            assertThat(stats.shadowConfigurations()).isZero();
            assertEveryCommandRings(driver, stats);
        }
    }

    @Test
    void aControllerWithoutDoorbellBufferConfigGetsPlainDoorbells() throws Exception {
        try (ServedNvme served = new ServedNvme(dir, b -> b.shadowDoorbells(false), "disk.img")) {
            DoorbellStatistics stats = served.controller.doorbellStatistics();
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults());
            assertThat(driver.controller().supportsShadowDoorbells()).isFalse();
            assertThat(driver.shadowDoorbells()).isFalse();
            assertEveryCommandRings(driver, stats);
        }
    }

    private void assertEveryCommandRings(NvmeDriver driver, DoorbellStatistics stats) throws Exception {
        IoQueue queue = driver.ioQueue();
        DmaRegion buffer = driver.allocateBuffer(4096);
        long before = stats.trappedSubmissionDoorbells();
        for (int i = 0; i < 50; i++) {
            queue.read(NSID, i, 8, buffer);
        }
        assertThat(stats.trappedSubmissionDoorbells() - before).isEqualTo(50);
    }

    @Test
    void eventIdxArithmeticWraps() {
        assertThat(Doorbells.needsEvent(0, 1, 0)).as("the first store after EventIdx 0").isTrue();
        assertThat(Doorbells.needsEvent(5, 10, 3)).as("passing EventIdx").isTrue();
        assertThat(Doorbells.needsEvent(5, 6, 5)).as("one past it").isTrue();
        assertThat(Doorbells.needsEvent(5, 7, 6)).as("already past it").isFalse();
        assertThat(Doorbells.needsEvent(10, 8, 3)).as("not yet at it").isFalse();
        assertThat(Doorbells.needsEvent(0xffff, 1, 0xfffe)).as("across the 16-bit wrap").isTrue();
        assertThat(Doorbells.needsEvent(0xffff, 0xfffe, 0xfffd)).isFalse();
    }
}
