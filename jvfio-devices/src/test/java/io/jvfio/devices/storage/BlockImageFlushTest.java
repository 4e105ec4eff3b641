package io.jvfio.devices.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.IoVectors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A flush reaches the file system (fdatasync) only when a write, a direct write, zeros or a punched
 * hole completed since the last one: a live upgrade's successor stops — and flushes — its fresh
 * device right after the old server flushed the same image.
 */
class BlockImageFlushTest {
    private static final long SIZE = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void aFlushSyncsOnlyWhatWasWrittenSinceTheLastOne() throws Exception {
        try (BlockImage image = BlockImage.open(dir.resolve("disk.img"), SIZE, false)) {
            image.flush();
            assertThat(image.syncs()).as("nothing written since the image was opened").isZero();

            image.write(0, ByteBuffer.wrap(new byte[512]));
            image.flush();
            image.flush();
            assertThat(image.syncs()).as("a write, then two flushes").isEqualTo(1);

            image.writeZeros(4096, 8192);
            image.flush();
            assertThat(image.syncs()).as("zeros written").isEqualTo(2);

            image.deallocate(0, 4096);
            image.flush();
            assertThat(image.syncs()).as("a hole punched (or not: the file system may not)").isEqualTo(3);

            try (Arena arena = Arena.ofConfined()) {
                MemorySegment block = arena.allocate(512);
                IoVectors vectors = new IoVectors(1);
                vectors.add(block.address(), block.byteSize());
                image.write(8192, vectors);
            }
            image.flush();
            image.flush();
            assertThat(image.syncs()).as("a direct write, then two flushes").isEqualTo(4);
        }
    }
}
