package io.jvfio.server;

import java.lang.foreign.MemorySegment;

/**
 * A region that is plain memory: trapped reads and writes copy from and to {@code memory} (the
 * session has checked the bounds against the region's size, which {@code memory} must match or
 * exceed). Accesses are not synchronized with the device's own use of the memory.
 */
public final class MemoryRegionHandler implements RegionHandler {
    private final MemorySegment memory;

    public MemoryRegionHandler(MemorySegment memory) {
        this.memory = memory;
    }

    /** The memory behind the region. */
    public MemorySegment memory() {
        return memory;
    }

    @Override
    public void read(long offset, MemorySegment dst) {
        MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void write(long offset, MemorySegment src) {
        MemorySegment.copy(src, 0, memory, offset, src.byteSize());
    }
}
