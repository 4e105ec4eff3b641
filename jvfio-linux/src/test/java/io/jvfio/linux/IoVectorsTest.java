package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Scattered native ranges filled and drained by one preadv/pwritev, as NVMe moves a command's pages. */
class IoVectorsTest {
    @Test
    void adjacentRangesMergeAndAFullArrayRefuses() {
        IoVectors v = new IoVectors(2);
        assertThat(v.add(0x10000, 4096)).isTrue();
        assertThat(v.add(0x11000, 4096)).as("continues the first").isTrue();
        assertThat(v.add(0x20000, 512)).isTrue();
        assertThat(v.add(0x30000, 512)).as("a third range").isFalse();
        assertThat(v.count()).isEqualTo(2);
        assertThat(v.bytes()).isEqualTo(8192 + 512);
        v.clear();
        assertThat(v.count()).isZero();
        assertThatThrownBy(() -> new IoVectors(1025)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aPartialTransferAdvancesTheEntries() {
        IoVectors v = new IoVectors(4);
        v.add(0x1000, 100);
        v.add(0x3000, 200);
        v.add(0x5000, 300);
        int first = v.advance(0, 150);   // all of the first, 50 of the second
        assertThat(first).isEqualTo(1);
        MemorySegment entries = v.from(first);
        assertThat(entries.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0x3000 + 50);
        assertThat(entries.get(ValueLayout.JAVA_LONG, 8)).isEqualTo(150);
        assertThat(v.advance(first, 150)).isEqualTo(2);
    }

    @Test
    void preadvAndPwritevMoveScatteredRangesInOneCall() throws Exception {
        try (Fd file = Memfd.create("iovectors", 1 << 16); Arena arena = Arena.ofConfined()) {
            MemorySegment memory = arena.allocate(1 << 16, 4096);
            for (int i = 0; i < 3 * 4096; i++) {
                memory.set(ValueLayout.JAVA_BYTE, i, (byte) (i / 4096 + 1));
            }
            // Pages 2, 0 and 1 of memory, in that order, go to the file at 8 KiB.
            IoVectors v = new IoVectors(4);
            v.add(memory.address() + 2 * 4096, 4096);
            v.add(memory.address(), 4096);
            v.add(memory.address() + 4096, 4096);
            assertThat(v.count()).as("the last two merge").isEqualTo(2);
            Linux.pwritev(file, v, 8192);
            MemorySegment back = arena.allocate(3 * 4096);
            assertThat(Linux.pread(file, back, 8192)).isEqualTo(3 * 4096);
            assertThat(back.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 3);
            assertThat(back.get(ValueLayout.JAVA_BYTE, 4096)).isEqualTo((byte) 1);
            assertThat(back.get(ValueLayout.JAVA_BYTE, 2 * 4096)).isEqualTo((byte) 2);

            v.clear();
            v.add(memory.address() + 8 * 4096, 100);
            v.add(memory.address() + 10 * 4096, 4096 * 3 - 100);
            Linux.preadv(file, v, 8192);
            assertThat(memory.get(ValueLayout.JAVA_BYTE, 8 * 4096)).isEqualTo((byte) 3);
            assertThat(memory.get(ValueLayout.JAVA_BYTE, 10 * 4096 + 4096 - 100)).isEqualTo((byte) 1);

            v.clear();
            v.add(memory.address(), 4096);
            assertThatThrownBy(() -> Linux.preadv(file, v, (1 << 16) - 100)).as("the file ends first")
                    .isInstanceOf(LinuxException.class).hasMessageContaining("ended");
        }
    }
}
