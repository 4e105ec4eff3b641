package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A batch ({@link IoQueue#deferDoorbell()} … {@link IoQueue#ringDoorbell()}) reaches the controller
 * with one tail doorbell, counted as trapped writes by jvfio's controller; an empty batch rings
 * none; a blocking call after a batch left open still completes.
 */
class IoQueueBatchTest {
    @TempDir
    Path dir;
    private int completed;

    @Test
    void aBatchRingsOnce() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.closeLater(NvmeDriver.open(served.client, NvmeDriver.Options.defaults().withShadowDoorbells(false)));
            assertThat(driver.doorbellsMapped()).isFalse();
            IoQueue queue = driver.ioQueue();
            DmaRegion buffer = driver.allocateBuffer(8 * 4096);
            long before = served.controller.doorbellStatistics().trappedSubmissionDoorbells();

            queue.deferDoorbell();
            for (int i = 0; i < 8; i++) {
                queue.submitRead(1, 8L * i, 8, buffer.segment().asSlice(4096L * i, 4096), buffer.iova() + 4096L * i, i);
            }
            queue.ringDoorbell();
            while (completed < 8) {
                completed += queue.await((tag, status, result) -> assertThat(status).isZero(), Duration.ofSeconds(10));
            }
            assertThat(served.controller.doorbellStatistics().trappedSubmissionDoorbells() - before).as("tail doorbells")
                    .isEqualTo(1);

            queue.deferDoorbell();
            queue.ringDoorbell();
            queue.deferDoorbell();
            queue.read(1, 0, 8, buffer);   // rings its own command although the batch is open
            assertThat(served.controller.doorbellStatistics().trappedSubmissionDoorbells() - before).isEqualTo(2);
        }
    }
}
