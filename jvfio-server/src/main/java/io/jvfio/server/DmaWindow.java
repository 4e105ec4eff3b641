package io.jvfio.server;

/** A window of client memory a DMA_MAP added: its IOVA range, permissions, and whether it is mapped from an fd. */
public record DmaWindow(long iova, long size, boolean readable, boolean writable, boolean mapped) {
    /** Whether {@code address} lies inside (unsigned: IOVAs use all 64 bits, a window may end at 2^64). */
    boolean contains(long address) {
        return Long.compareUnsigned(address - iova, size) < 0;
    }

    /** Last address of the window, inclusive (never wraps). */
    long last() {
        return iova + size - 1;
    }
}
