package io.jvfio.devices.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live upgrade's stop leaves what the disk wrote in the host's page cache, where the successor on
 * this host reads it; a migration's stop makes it durable for another host.
 */
class VirtioBlkStopForSuccessorTest {
    @TempDir
    Path dir;

    @Test
    void aStopForASuccessorSyncsNothingAndAMigrationsStopSyncsWhatWasWritten() throws Exception {
        VirtioBlk disk = VirtioBlk.builder(dir.resolve("disk.img")).create(1 << 20).build();
        try {
            disk.image().write(0, ByteBuffer.wrap(new byte[512])); // what a completed request left behind

            disk.quiesceForSuccessor();
            assertThat(disk.image().syncs()).as("stopped for a successor").isZero();

            disk.resume();
            disk.quiesce();
            assertThat(disk.image().syncs()).as("stopped for a migration").isEqualTo(1);
        } finally {
            disk.shutdown();
        }
    }
}
