package io.jvfio.server;

import java.lang.foreign.MemorySegment;

/**
 * Trapped accesses to one BAR (or any region): the client's REGION_READ and REGION_WRITE, already
 * checked to lie inside the region. Offsets are relative to the region's start.
 */
public interface RegionHandler {
    void read(long offset, MemorySegment dst) throws VfioException;

    void write(long offset, MemorySegment src) throws VfioException;
}
