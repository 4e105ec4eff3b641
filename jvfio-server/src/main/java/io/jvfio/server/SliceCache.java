package io.jvfio.server;

import java.lang.foreign.MemorySegment;

/**
 * A slice of a fixed buffer at a fixed offset, remembered: while the length repeats (as it does
 * message after message on a hot path) the same segment object comes back, so nothing is allocated
 * even where escape analysis cannot remove the slice (it is handed to a native call or a device).
 */
final class SliceCache {
    private final MemorySegment base;
    private final long offset;
    private MemorySegment last;

    SliceCache(MemorySegment base, long offset) {
        this.base = base;
        this.offset = offset;
        this.last = base.asSlice(offset, 0);
    }

    MemorySegment of(long length) {
        MemorySegment l = last;
        if (l.byteSize() != length) {
            l = base.asSlice(offset, length);
            last = l;
        }
        return l;
    }
}
