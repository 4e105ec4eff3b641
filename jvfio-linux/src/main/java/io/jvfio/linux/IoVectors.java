package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A reusable native array of {@code struct iovec} for {@link Linux#preadv} and {@link Linux#pwritev}:
 * ranges of native memory (raw addresses) that one system call fills or drains, so a device can
 * move a command's data between a file and mapped client memory without a copy in between and
 * without allocating per call. Used by one thread at a time; the memory lives until garbage
 * collection. The addresses are the caller's to keep valid for the call.
 */
public final class IoVectors {
    private static final long ENTRY = Libc.IOVEC.byteSize();

    private final MemorySegment array;
    private final int capacity;
    private int count;
    private long bytes;

    /** Room for {@code capacity} ranges (at most IOV_MAX, 1024). */
    public IoVectors(int capacity) {
        if (capacity < 1 || capacity > 1024) {
            throw new IllegalArgumentException("an iovec array holds 1 to 1024 entries, not " + capacity);
        }
        this.capacity = capacity;
        this.array = Arena.ofAuto().allocate(ENTRY * capacity, 8);
    }

    public void clear() {
        count = 0;
        bytes = 0;
    }

    /**
     * Adds [address, address + length); a range that continues the previous one extends it.
     * False, adding nothing, when the array is full.
     */
    public boolean add(long address, long length) {
        if (count > 0) {
            long last = (count - 1) * ENTRY;
            long lastLength = array.get(JAVA_LONG, last + Libc.IOVEC_LEN);
            if (array.get(JAVA_LONG, last + Libc.IOVEC_BASE) + lastLength == address) {
                array.set(JAVA_LONG, last + Libc.IOVEC_LEN, lastLength + length);
                bytes += length;
                return true;
            }
        }
        if (count == capacity) {
            return false;
        }
        array.set(JAVA_LONG, count * ENTRY + Libc.IOVEC_BASE, address);
        array.set(JAVA_LONG, count * ENTRY + Libc.IOVEC_LEN, length);
        count++;
        bytes += length;
        return true;
    }

    /** Ranges held (after merging adjacent ones). */
    public int count() {
        return count;
    }

    /** Bytes the ranges cover. */
    public long bytes() {
        return bytes;
    }

    /** The entries from {@code first}, for a system call (a slice only after a partial transfer). */
    MemorySegment from(int first) {
        return first == 0 ? array : array.asSlice(first * ENTRY);
    }

    /**
     * After a partial transfer of {@code done} more bytes from entry {@code first}: drops the
     * entries done and shortens the one cut; returns the new first entry.
     */
    int advance(int first, long done) {
        while (done > 0) {
            long at = first * ENTRY;
            long length = array.get(JAVA_LONG, at + Libc.IOVEC_LEN);
            if (done < length) {
                array.set(JAVA_LONG, at + Libc.IOVEC_BASE, array.get(JAVA_LONG, at + Libc.IOVEC_BASE) + done);
                array.set(JAVA_LONG, at + Libc.IOVEC_LEN, length - done);
                return first;
            }
            done -= length;
            first++;
        }
        return first;
    }
}
