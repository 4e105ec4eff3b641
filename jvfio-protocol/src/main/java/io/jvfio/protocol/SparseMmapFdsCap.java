package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * REGION_INFO_CAP_SPARSE_MMAP_FDS (id 16, version 1; pending, SPEC+): {@code nr_areas u32, reserved u32},
 * then nr_areas × 32-byte {@code {offset u64, fd_offset u64, size u64, fd_index u32, pad u32}}
 * (SPEC+ table: first area at body offset 8, its pad at 36); fd_index
 * picks one of the fds sent with the GET_REGION_INFO reply.
 */
public record SparseMmapFdsCap(List<Area> areas) implements Capability {
    public static final int ID = Vfio.REGION_INFO_CAP_SPARSE_MMAP_FDS;
    public static final int VERSION = 1;
    public static final int AREA_SIZE = 32;

    public record Area(long offset, long fdOffset, long size, int fdIndex) {}

    public SparseMmapFdsCap {
        areas = List.copyOf(areas);
    }

    @Override
    public int id() {
        return ID;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public long bodySize() {
        return 8 + (long) AREA_SIZE * areas.size();
    }

    /** Highest fd_index + 1: the number of fds the reply must carry at least. */
    public int fdCount() {
        int max = 0;
        for (Area a : areas) {
            max = Math.max(max, a.fdIndex() + 1);
        }
        return max;
    }

    @Override
    public void encodeBody(MemorySegment b) {
        Wire.put32(b, 0, areas.size());
        Wire.put32(b, 4, 0);
        long off = 8;
        for (Area a : areas) {
            Wire.put64(b, off, a.offset());
            Wire.put64(b, off + 8, a.fdOffset());
            Wire.put64(b, off + 16, a.size());
            Wire.put32(b, off + 24, a.fdIndex());
            Wire.put32(b, off + 28, 0);
            off += AREA_SIZE;
        }
    }

    public static SparseMmapFdsCap decodeBody(MemorySegment b) throws ProtocolException {
        Wire.need(b, 8, "SPARSE_MMAP_FDS capability");
        long n = Wire.u32(b, 0);
        Wire.need(b, 8 + AREA_SIZE * n, "SPARSE_MMAP_FDS capability with " + n + " areas");
        List<Area> areas = new ArrayList<>((int) n);
        for (long i = 0, off = 8; i < n; i++, off += AREA_SIZE) {
            areas.add(new Area(Wire.i64(b, off), Wire.i64(b, off + 8), Wire.i64(b, off + 16), Wire.i32(b, off + 24)));
        }
        return new SparseMmapFdsCap(areas);
    }
}
