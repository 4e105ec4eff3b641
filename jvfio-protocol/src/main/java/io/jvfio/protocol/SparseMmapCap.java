package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * REGION_INFO_CAP_SPARSE_MMAP (id 1, version 1): {@code nr_areas u32, reserved u32}, then nr_areas ×
 * {@code {offset u64, size u64}}. Offsets are relative to the region's mmap offset.
 */
public record SparseMmapCap(List<Area> areas) implements Capability {
    public static final int ID = Vfio.REGION_INFO_CAP_SPARSE_MMAP;
    public static final int VERSION = 1;
    public static final int AREA_SIZE = 16;

    public record Area(long offset, long size) {}

    public SparseMmapCap {
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

    @Override
    public void encodeBody(MemorySegment b) {
        Wire.put32(b, 0, areas.size());
        Wire.put32(b, 4, 0);
        long off = 8;
        for (Area a : areas) {
            Wire.put64(b, off, a.offset());
            Wire.put64(b, off + 8, a.size());
            off += AREA_SIZE;
        }
    }

    public static SparseMmapCap decodeBody(MemorySegment b) throws ProtocolException {
        Wire.need(b, 8, "SPARSE_MMAP capability");
        long n = Wire.u32(b, 0);
        Wire.need(b, 8 + AREA_SIZE * n, "SPARSE_MMAP capability with " + n + " areas");
        List<Area> areas = new ArrayList<>((int) n);
        for (long i = 0, off = 8; i < n; i++, off += AREA_SIZE) {
            areas.add(new Area(Wire.i64(b, off), Wire.i64(b, off + 8)));
        }
        return new SparseMmapCap(areas);
    }
}
