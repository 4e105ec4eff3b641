package io.jvfio.nvme;

import java.lang.foreign.MemorySegment;

/**
 * Memory both sides reach: {@link #segment()} as this process sees it, {@link #iova()} where the
 * device sees its first byte. The driver's queues live in such regions, and so do the data buffers
 * a caller gets from {@link NvmeDriver#allocateBuffer}.
 */
public record DmaRegion(MemorySegment segment, long iova) {
    public long size() {
        return segment.byteSize();
    }
}
