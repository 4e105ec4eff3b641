package io.jvfio.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A shared mmap of (part of) a file. The segment belongs to a shared arena whose closing unmaps the
 * memory, so once {@link #close()} returned every access to the segment fails with
 * IllegalStateException instead of touching unmapped memory. A read-only mapping hands out a
 * read-only segment, so a stray write is an exception rather than a SIGSEGV.
 *
 * <p>The mapping keeps the file alive by itself: the {@link Fd} may be closed right after
 * {@link #map}.
 */
public final class Mapping implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;
    private boolean closed;

    private Mapping(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Maps {@code length} bytes of {@code fd} from {@code offset} (MAP_SHARED, PROT_READ, plus
     * PROT_WRITE if {@code writable}). mmap needs a page-aligned file offset, so the mapping starts
     * at the page holding {@code offset}; {@link #segment()} still starts exactly at {@code offset}.
     */
    @SuppressWarnings("restricted") // reinterpret gives the mmap result its true size and lifetime
    public static Mapping map(Fd fd, long offset, long length, boolean writable) throws LinuxException {
        if (offset < 0) throw new IllegalArgumentException("negative offset: " + offset);
        if (length <= 0) throw new IllegalArgumentException("length must be positive: " + length);
        long alignedOffset = offset & -Linux.PAGE_SIZE;
        long lead = offset - alignedOffset;
        long mappedLength = Math.addExact(lead, length);
        int protection = Libc.PROT_READ | (writable ? Libc.PROT_WRITE : 0);

        long base;
        int number = fd.acquire("mmap");
        try {
            base = Syscalls.check(Syscalls.mmap(Libc.scratch().captureState, mappedLength, protection, Libc.MAP_SHARED,
                    number, alignedOffset), "mmap");
        } finally {
            fd.release();
        }

        Arena arena = Arena.ofShared();
        MemorySegment whole = MemorySegment.ofAddress(base).reinterpret(mappedLength, arena, unmapQuietly(mappedLength));
        MemorySegment segment = whole.asSlice(lead, length);
        return new Mapping(arena, writable ? segment : segment.asReadOnly());
    }

    private static java.util.function.Consumer<MemorySegment> unmapQuietly(long mappedLength) {
        // munmap of a range we mapped cannot fail; its result is not worth looking at.
        return start -> Syscalls.munmap(Libc.scratch().captureState, start, mappedLength);
    }

    /** The mapped bytes, from the requested offset; unusable after {@link #close()}. */
    public MemorySegment segment() {
        return segment;
    }

    public long length() {
        return segment.byteSize();
    }

    /**
     * Unmaps; idempotent. Throws IllegalStateException if a native call is still using the segment
     * (the arena refuses to close then), in which case nothing was unmapped.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        arena.close();
        closed = true;
    }
}
