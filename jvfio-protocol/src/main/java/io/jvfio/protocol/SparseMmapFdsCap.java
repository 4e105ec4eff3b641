package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u64;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * REGION_INFO_CAP_SPARSE_MMAP_FDS (id 16, version 1; pending, SPEC+): the {@link SparseMmapCap} body with
 * 32-byte areas {@code {offset u64, fd_offset u64, size u64, fd_index u32, pad u32}} (SPEC+ table: first
 * area at body offset 8, its pad at 36); fd_index picks one of the fds sent with the GET_REGION_INFO reply.
 */
public record SparseMmapFdsCap(List<Area> areas) implements InfoCapability {
    public static final int ID = Vfio.REGION_INFO_CAP_SPARSE_MMAP_FDS;
    public static final int VERSION = 1;
    public static final int AREA_SIZE = Area.STRUCT.size();

    public record Area(long offset, long fdOffset, long size, int fdIndex) {
        static final Struct<Area> STRUCT = Struct.of(Area.class, "SPARSE_MMAP_FDS area",
                u64("offset"), u64("fdOffset"), u64("size"), Struct.u32("fdIndex"), Struct.reserved(4));
    }

    public SparseMmapFdsCap {
        areas = List.copyOf(areas);
    }

    @Override
    public int id() {
        return ID;
    }

    @Override
    public long bodySize() {
        return SparseMmapCap.AREAS_OFFSET + (long) AREA_SIZE * areas.size();
    }

    /** Highest fd_index + 1: the number of fds the reply must carry at least. */
    public int fdCount() {
        return areas.stream().mapToInt(e -> e.fdIndex() + 1).reduce(0, Math::max);
    }

    @Override
    public void encodeBody(MemorySegment b) {
        SparseMmapCap.encodeAreas(b, Area.STRUCT, areas);
    }

    public static SparseMmapFdsCap decodeBody(MemorySegment b) throws ProtocolException {
        return new SparseMmapFdsCap(SparseMmapCap.decodeAreas(b, Area.STRUCT, "SPARSE_MMAP_FDS capability"));
    }
}
