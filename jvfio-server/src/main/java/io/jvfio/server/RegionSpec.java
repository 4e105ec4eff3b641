package io.jvfio.server;

import io.jvfio.linux.Fd;
import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.Vfio;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What DEVICE_GET_REGION_INFO reports for one region.
 *
 * @param size     the region's size in bytes (0 for an absent region)
 * @param access   what the client may do with it
 * @param mmap     present when the client may map the region (or parts of it) from a file
 * @param capabilities extra capabilities, e.g. a region TYPE for device-specific regions
 */
public record RegionSpec(long size, Set<Access> access, Optional<Mmap> mmap, List<InfoCapability> capabilities) {
    public RegionSpec {
        access = Set.copyOf(access);
        capabilities = List.copyOf(capabilities);
    }

    public static RegionSpec absent() {
        return new RegionSpec(0, Access.NONE, Optional.empty(), List.of());
    }

    /** A region every access of which the device traps (REGION_READ/REGION_WRITE). */
    public static RegionSpec trapped(long size, Set<Access> access) {
        return new RegionSpec(size, access, Optional.empty(), List.of());
    }

    public boolean readable() {
        return access.contains(Access.READ);
    }

    public boolean writable() {
        return access.contains(Access.WRITE);
    }

    /** The VFIO region info flags READ, WRITE and MMAP (CAPS goes with the encoded capability chain). */
    public int vfioFlags() {
        return (readable() ? Vfio.REGION_INFO_FLAG_READ : 0) | (writable() ? Vfio.REGION_INFO_FLAG_WRITE : 0)
                | (mmap.isPresent() ? Vfio.REGION_INFO_FLAG_MMAP : 0);
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

        /** The whole region is mappable from {@code fd} at offset 0. */
        public static Mmap whole(Fd fd) {
            return new Mmap(fd, 0, List.of());
        }
    }

    /** A mappable part of a region, relative to the region's start. */
    public record SparseArea(long offset, long size) {}
}
