package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.testing.Allocations;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The I/O path allocates nothing per command: with doorbells mapped (the controller polls them),
 * or trapped behind shadow doorbells (the rare register write a trapped message), and completions
 * polled, submitting and completing reads and writes, through PRP lists or SGLs, is plain memory
 * access.
 */
class NvmeDriverAllocationTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private long completed;
    private final CompletionListener counter = (tag, status, result) -> completed += status == 0 ? 1 : 1 << 20;

    /**
     * With PRPs, or with SGLs (a data block in the command, or a scatter list's segment in the slot's
     * page); doorbells mapped, or trapped with shadow doorbells.
     */
    @ParameterizedTest(name = "SGLs {0}, mapped doorbells {1}")
    @CsvSource({"false, true", "true, true", "false, false", "true, false"})
    void submittingAndCompletingAllocatesNothing(boolean sgls, boolean mappedDoorbells) throws Exception {
        try (ServedNvme served = new ServedNvme(dir, b -> b.polledDoorbells(mappedDoorbells), "disk.img")) {
            NvmeDriver driver = served.closeLater(NvmeDriver.open(served.client, NvmeDriver.Options.defaults().withSgls(sgls)));
            assertThat(driver.doorbellsMapped()).isEqualTo(mappedDoorbells);
            assertThat(driver.shadowDoorbells()).as("shadows only for trapped doorbells").isEqualTo(!mappedDoorbells);
            assertThat(driver.usesSgls()).isEqualTo(sgls);
            IoQueue queue = driver.ioQueue();
            DmaRegion buffer = driver.allocateBuffer(64 << 10);
            ScatterList pieces = sgls   // 32 KiB in three pieces: at odd places, or meeting on page boundaries for PRPs
                    ? new ScatterList(3).add(buffer, 3, 10_000).add(buffer, 40_001, 20_000).add(buffer, 20_000, 2768)
                    : new ScatterList(3).add(buffer, 4, 4092).add(buffer, 32_768, 8192).add(buffer, 8192, 20_484);
            run(queue, buffer, pieces, 5_000);
            long before = Allocations.currentThread();
            run(queue, buffer, pieces, 10_000);
            long allocated = Allocations.currentThread() - before;
            assertThat(completed).as("every command succeeded").isEqualTo(15_000);
            assertThat(allocated).as("bytes allocated over 10k commands").isLessThan(4096);
        }
    }

    /**
     * {@code commands} commands, four in flight: 4 KiB reads (two PRPs) and 32 KiB writes (a PRP
     * list) in turn, every other write from {@code pieces}.
     */
    private void run(IoQueue queue, DmaRegion buffer, ScatterList pieces, int commands) throws Exception {
        long target = completed + commands;
        for (int i = 0; i < commands; i++) {
            while (queue.inFlight() == 4) {
                queue.await(counter, WAIT);
            }
            long lba = (i % 200) * 64L;
            if ((i & 1) == 0) {
                queue.submitRead(1, lba, 8, buffer.segment(), buffer.iova() + 2048, i);
            } else if ((i & 2) == 0) {
                queue.submitWrite(1, lba, 64, buffer, i);
            } else {
                queue.submitWrite(1, lba, 64, pieces, i);
            }
        }
        while (completed < target) {
            queue.await(counter, WAIT);
        }
    }
}
