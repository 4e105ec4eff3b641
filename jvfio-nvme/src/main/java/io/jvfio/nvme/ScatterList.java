package io.jvfio.nvme;

import java.util.Objects;

/**
 * A reusable list of data pieces in DMA memory — each an IOVA and a length — for one command
 * whose data is scattered ({@link IoQueue#submitRead(int, long, int, ScatterList, long)}). Filled
 * with {@link #add} and emptied with {@link #clear}, it allocates nothing after construction.
 * Described with SGLs (one Data Block descriptor per piece) when the driver uses them
 * ({@link NvmeDriver#usesSgls()}), else with PRPs, which take only pieces that meet on page
 * boundaries (the first may start inside a page, the last end inside one).
 */
public final class ScatterList {
    /** One page of SGL descriptors: what a command's preallocated segment holds. */
    public static final int MAX_PIECES = NvmeSpec.SGL_DESCRIPTORS_PER_PAGE;

    private final long[] iovas;
    private final int[] lengths;
    private int count;
    private long bytes;

    /** Room for {@code capacity} pieces (1 to {@link #MAX_PIECES}). */
    public ScatterList(int capacity) {
        if (capacity < 1 || capacity > MAX_PIECES) {
            throw new IllegalArgumentException("a scatter list of %d pieces (1-%d)".formatted(capacity, MAX_PIECES));
        }
        this.iovas = new long[capacity];
        this.lengths = new int[capacity];
    }

    /** Appends {@code length} bytes the device sees at {@code iova}; returns this list. */
    public ScatterList add(long iova, int length) {
        if (length <= 0) {
            throw new IllegalArgumentException("a piece of %d bytes".formatted(length));
        }
        if (count == iovas.length) {
            throw new IllegalStateException("the scatter list is full (%d pieces)".formatted(count));
        }
        iovas[count] = iova;
        lengths[count] = length;
        count++;
        bytes += length;
        return this;
    }

    public ScatterList add(DmaRegion region, long offset, int length) {
        if (offset < 0 || offset > region.size() - length) {
            throw new IllegalArgumentException("[%d, +%d) lies outside %s".formatted(offset, length, region));
        }
        return add(region.iova() + offset, length);
    }

    public void clear() {
        count = 0;
        bytes = 0;
    }

    public int size() {
        return count;
    }

    /** The bytes of every piece together. */
    public long byteCount() {
        return bytes;
    }

    public long iova(int piece) {
        return iovas[Objects.checkIndex(piece, count)];
    }

    public int length(int piece) {
        return lengths[Objects.checkIndex(piece, count)];
    }
}
