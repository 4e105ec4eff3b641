package io.jvfio.server;

import java.util.Set;

/**
 * A window of client memory a DMA_MAP added: its IOVA range, what the device may do there, and
 * whether it is mapped from an fd (else reached by DMA_READ/DMA_WRITE messages).
 */
public record DmaWindow(long iova, long size, Set<Access> access, boolean mapped) {
    public DmaWindow {
        access = Set.copyOf(access);
    }

    public boolean readable() {
        return access.contains(Access.READ);
    }

    public boolean writable() {
        return access.contains(Access.WRITE);
    }

    /** Whether {@code address} lies inside (unsigned: IOVAs use all 64 bits, a window may end at 2^64). */
    public boolean contains(long address) {
        return Long.compareUnsigned(address - iova, size) < 0;
    }

    /** Last address of the window, inclusive (never wraps). */
    public long last() {
        return iova + size - 1;
    }
}
