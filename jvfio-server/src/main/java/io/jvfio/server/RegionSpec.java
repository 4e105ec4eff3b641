package io.jvfio.server;

import io.jvfio.linux.Fd;
import io.jvfio.protocol.Capability;
import java.util.List;
import java.util.Optional;

/**
 * What DEVICE_GET_REGION_INFO reports for one region.
 *
 * @param size     the region's size in bytes (0 for an absent region)
 * @param readable the client may read it
 * @param writable the client may write it
 * @param mmap     present when the client may map the region (or parts of it) from a file
 * @param capabilities extra capabilities, e.g. a region TYPE for device-specific regions
 */
public record RegionSpec(long size, boolean readable, boolean writable, Optional<Mmap> mmap,
                         List<Capability> capabilities) {
    public RegionSpec {
        capabilities = List.copyOf(capabilities);
    }

    public static RegionSpec absent() {
        return new RegionSpec(0, false, false, Optional.empty(), List.of());
    }

    public static RegionSpec trapped(long size, boolean readable, boolean writable) {
        return new RegionSpec(size, readable, writable, Optional.empty(), List.of());
    }

    /**
     * A region the client may mmap: {@code fd} at {@code fileOffset} backs the region. When
     * {@code areas} is non-empty only those parts are mappable (a SPARSE_MMAP capability), and
     * the rest stays trapped.
     */
    public record Mmap(Fd fd, long fileOffset, List<SparseArea> areas) {
        public Mmap {
            areas = List.copyOf(areas);
        }
    }

    /** A mappable part of a region, relative to the region's start. */
    public record SparseArea(long offset, long size) {}
}
