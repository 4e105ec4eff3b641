package io.jvfio.server.internal;

import java.lang.foreign.MemorySegment;

/**
 * A slice of a buffer at a fixed offset, remembered: while the base and the length repeat (as they
 * do message after message on a hot path) the same segment object comes back, so nothing is
 * allocated even where escape analysis cannot remove the slice (it is handed to a native call or a
 * device).
 */
final class SliceCache {
    private MemorySegment base;
    private final long offset;
    private MemorySegment last;

    /** Slices of {@code base}; see {@link #of(long)}. */
    SliceCache(MemorySegment base, long offset) {
        this.base = base;
        this.offset = offset;
        this.last = base.asSlice(offset, 0);
    }

    /** Slices of whatever base {@link #of(MemorySegment, long)} is given. */
    SliceCache(long offset) {
        this.offset = offset;
    }

    MemorySegment of(long length) {
        MemorySegment l = last;
        if (l.byteSize() != length) {
            l = base.asSlice(offset, length);
            last = l;
        }
        return l;
    }

    /** {@code length} bytes of {@code from} at the offset; the same object while {@code from} and the length repeat. */
    MemorySegment of(MemorySegment from, long length) {
        MemorySegment l = last;
        if (from != base || l.byteSize() != length) {
            l = from.asSlice(offset, length);
            base = from;
            last = l;
        }
        return l;
    }
}
