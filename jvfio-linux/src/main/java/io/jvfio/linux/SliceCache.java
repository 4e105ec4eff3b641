package io.jvfio.linux;

import java.lang.foreign.MemorySegment;

/**
 * Slices of a buffer at a fixed offset, remembered by length: a hot path that hands a slice to a
 * native call or a device (where escape analysis cannot remove it) gets the same segment object
 * back for every length it has seen, so a stream of messages of mixed sizes allocates nothing once
 * each size came by. Lengths up to {@link #REMEMBERED_LENGTHS} keep a slice each (the region
 * accesses, interrupt and small commands a guest's driver mixes); a longer length keeps only the
 * last slice, as bulk messages rarely alternate.
 *
 * <p>The base may be fixed ({@link #SliceCache(MemorySegment, long)}) or passed with each call
 * ({@link #of(MemorySegment, long)}): then each remembered slice is kept with its base and is
 * reused only for that base, so bases that come and go with the lengths (a message view per size)
 * still find their slices. Not thread-safe.
 */
public final class SliceCache {
    /** Lengths below this keep their own slice. */
    public static final int REMEMBERED_LENGTHS = 256;

    private final long offset;
    private final MemorySegment fixedBase;
    private final MemorySegment[] bases = new MemorySegment[REMEMBERED_LENGTHS];
    private final MemorySegment[] slices = new MemorySegment[REMEMBERED_LENGTHS];
    private MemorySegment longBase, longSlice;

    /** Slices of {@code base} at {@code offset}; see {@link #of(long)}. */
    public SliceCache(MemorySegment base, long offset) {
        this.fixedBase = base;
        this.offset = offset;
    }

    /** Slices at {@code offset} of whatever base {@link #of(MemorySegment, long)} is given. */
    public SliceCache(long offset) {
        this.fixedBase = null;
        this.offset = offset;
    }

    /** {@code length} bytes of the fixed base at the offset: the same object for the same length. */
    public MemorySegment of(long length) {
        return of(fixedBase, length);
    }

    /** {@code length} bytes of {@code from} at the offset: the same object for the same base and length. */
    public MemorySegment of(MemorySegment from, long length) {
        if (length >= 0 && length < REMEMBERED_LENGTHS) {
            int i = (int) length;
            MemorySegment s = slices[i];
            if (s == null || bases[i] != from) {
                s = from.asSlice(offset, length);
                bases[i] = from;
                slices[i] = s;
            }
            return s;
        }
        MemorySegment s = longSlice;
        if (s == null || longBase != from || s.byteSize() != length) {
            s = from.asSlice(offset, length);
            longBase = from;
            longSlice = s;
        }
        return s;
    }
}
