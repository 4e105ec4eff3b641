package io.jvfio.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * The one way a native call meets memory that may be on the heap, which the kernel cannot see:
 * native memory is used in place; heap memory is copied through this buffer, as much as fits at a
 * time. Outbound ({@link #source}) the heap bytes are copied in before the call; inbound
 * ({@link #destination}) the call writes into the buffer and {@link #deliver} copies what arrived
 * out. The address forms serve iovecs (nothing allocated); the segment forms serve calls that take
 * a segment, which keep native memory alive through the call.
 *
 * <p>The buffer grows (by powers of two, up to {@link #MAX_BYTES}, keeping its contents) and is
 * then reused, so a transfer whose size fits allocates nothing. Not thread-safe: each user guards
 * it with its own lock, or keeps it to one call.
 */
final class BounceBuffer implements AutoCloseable {
    static final long MIN_BYTES = 4096;
    static final long MAX_BYTES = 1 << 20;

    private final Supplier<Arena> arenas;
    private Arena arena;
    private MemorySegment memory = MemorySegment.NULL;
    /** Bytes the last {@link #source} or {@link #destination} stands for. */
    private long length;

    /** {@code arenas} makes the arena of each (grown) buffer: shared when the user's calls may come from any thread. */
    BounceBuffer(Supplier<Arena> arenas) {
        this.arenas = arenas;
    }

    /** Bytes the last source or destination stands for: all those asked for in native memory, else what fit. */
    long length() {
        return length;
    }

    /**
     * The address from which a native call reads {@code length} bytes of {@code source} from
     * {@code offset}: theirs for native memory; else that of a copy of as many as fit, at {@code at}
     * in this buffer (so the pieces of one call can lie side by side). See {@link #length()}.
     */
    long source(MemorySegment source, long offset, long length, long at) {
        if (source.isNative()) {
            this.length = length;
            return source.address() + offset;
        }
        this.length = fit(length, at);
        MemorySegment.copy(source, offset, memory, at, this.length);
        return memory.address() + at;
    }

    /**
     * The address to which a native call writes up to {@code length} bytes meant for
     * {@code destination} at {@code offset}: theirs for native memory, else the start of this
     * buffer (as many as fit, see {@link #length()}); then {@link #deliver} them.
     */
    long destination(MemorySegment destination, long offset, long length) {
        if (destination.isNative()) {
            this.length = length;
            return destination.address() + offset;
        }
        this.length = fit(length, 0);
        return memory.address();
    }

    /** After a call wrote {@code count} bytes to {@link #destination}: copies them to heap {@code destination}. */
    void deliver(MemorySegment destination, long offset, long count) {
        if (!destination.isNative() && count > 0) {
            MemorySegment.copy(memory, 0, destination, offset, count);
        }
    }

    /** {@link #source} as a segment of {@link #length()} bytes. */
    MemorySegment sourceSegment(MemorySegment source, long offset, long length) {
        source(source, offset, length, 0);
        return source.isNative() ? source.asSlice(offset, length) : memory.asSlice(0, this.length);
    }

    /** {@link #destination} as a segment of {@link #length()} bytes. */
    MemorySegment destinationSegment(MemorySegment destination, long offset, long length) {
        destination(destination, offset, length);
        return destination.isNative() ? destination.asSlice(offset, length) : memory.asSlice(0, this.length);
    }

    /** Grows the buffer toward {@code at + length} bytes, keeping the first {@code at}; returns how many of {@code length} fit. */
    private long fit(long length, long at) {
        long needed = Math.min(Math.max(at + length, MIN_BYTES), MAX_BYTES);
        if (memory.byteSize() < needed) {
            Arena grown = arenas.get();
            MemorySegment bigger = grown.allocate(Long.highestOneBit(needed - 1) << 1, 8);
            MemorySegment.copy(memory, 0, bigger, 0, Math.min(at, memory.byteSize()));
            close();
            arena = grown;
            memory = bigger;
        }
        return Math.min(length, memory.byteSize() - at);
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
            arena = null;
            memory = MemorySegment.NULL;
        }
    }
}
