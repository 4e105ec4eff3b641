package io.jvfio.devices.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.storage.BlockImage;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live upgrade's stop leaves what the controller wrote in the host's page cache, where the
 * successor on this host reads it; a migration's stop makes it durable for another host.
 */
class NvmeStopForSuccessorTest {
    @TempDir
    Path dir;

    @Test
    void aStopForASuccessorSyncsNothingAndAMigrationsStopSyncsWhatWasWritten() throws Exception {
        BlockImage image = BlockImage.open(dir.resolve("ns.img"), 1 << 20, false);
        NvmeController nvme = NvmeController.builder().namespace(image).build();
        try {
            image.write(0, ByteBuffer.wrap(new byte[512])); // what a completed Write left behind

            nvme.quiesceForSuccessor();
            assertThat(image.syncs()).as("stopped for a successor").isZero();

            nvme.resume();
            nvme.quiesce();
            assertThat(image.syncs()).as("stopped for a migration").isEqualTo(1);
        } finally {
            nvme.shutdown();
        }
    }
}
