package io.jvfio.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native memory that heap segments are copied through, since native calls cannot take heap
 * memory. It grows (by powers of two, up to {@link #MAX_BYTES}) and is then reused, so a transfer
 * whose size fits allocates nothing. Larger transfers go through in pieces. Not thread-safe: each
 * user guards it with its own lock.
 */
final class BounceBuffer implements AutoCloseable {
    static final long MIN_BYTES = 4096;
    static final long MAX_BYTES = 1 << 20;

    private Arena arena;
    private MemorySegment memory = MemorySegment.NULL;

    /** A buffer of at least min(wanted, MAX_BYTES) bytes; previous contents are not kept. */
    MemorySegment reserve(long wanted) {
        long needed = Math.min(Math.max(wanted, MIN_BYTES), MAX_BYTES);
        if (memory.byteSize() < needed) {
            // A shared arena: the lock-holding thread may differ from one call to the next.
            Arena grown = Arena.ofShared();
            MemorySegment bigger = grown.allocate(Long.highestOneBit(needed - 1) << 1, 8);
            close();
            arena = grown;
            memory = bigger;
        }
        return memory;
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
