package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** One slice per length and base, the same object each time; long lengths keep the last one. */
class SliceCacheTest {
    private final MemorySegment buffer = Arena.ofAuto().allocate(4096, 8);

    @Test
    void alternatingLengthsGetTheirOwnSliceBackEachTime() {
        SliceCache cache = new SliceCache(buffer, 16);
        MemorySegment four = cache.of(4), eight = cache.of(8), none = cache.of(0);
        assertThat(four.byteSize()).isEqualTo(4);
        assertThat(four.address()).isEqualTo(buffer.address() + 16);
        assertThat(eight.byteSize()).isEqualTo(8);
        assertThat(none.byteSize()).isZero();
        for (int i = 0; i < 3; i++) {
            assertThat(cache.of(4)).isSameAs(four);
            assertThat(cache.of(8)).isSameAs(eight);
            assertThat(cache.of(0)).isSameAs(none);
        }
    }

    @Test
    void aSliceIsReusedOnlyForTheBaseItWasCutFrom() {
        SliceCache cache = new SliceCache(4);
        MemorySegment a = buffer.asSlice(0, 64), b = buffer.asSlice(64, 64);
        MemorySegment ofA = cache.of(a, 8);
        MemorySegment ofB = cache.of(b, 8);
        assertThat(ofB).isNotSameAs(ofA);
        assertThat(ofB.address()).isEqualTo(b.address() + 4);
        assertThat(cache.of(b, 8)).isSameAs(ofB);
        assertThat(cache.of(a, 8).address()).isEqualTo(a.address() + 4);
    }

    @Test
    void longLengthsKeepTheLastSlice() {
        SliceCache cache = new SliceCache(buffer, 0);
        long longer = SliceCache.REMEMBERED_LENGTHS + 100;
        MemorySegment first = cache.of(longer);
        assertThat(cache.of(longer)).isSameAs(first);
        MemorySegment other = cache.of(longer + 1);
        assertThat(other.byteSize()).isEqualTo(longer + 1);
        MemorySegment again = cache.of(longer);
        assertThat(again).isNotSameAs(first);
        assertThat(again.byteSize()).isEqualTo(longer);
    }
}
