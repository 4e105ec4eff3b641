package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * REGION_INFO_CAP_SPARSE_MMAP (id 1, version 1): {@code nr_areas u32, reserved u32}, then nr_areas ×
 * {@code {offset u64, size u64}}. Offsets are relative to the region's mmap offset.
 */
public record SparseMmapCap(List<Area> areas) implements InfoCapability {
    public static final int ID = Vfio.REGION_INFO_CAP_SPARSE_MMAP;
    public static final int VERSION = 1;
    public static final int AREA_SIZE = Area.STRUCT.size();
    /** The body before the areas: {@code nr_areas u32, reserved u32} (also of {@link SparseMmapFdsCap}). */
    static final int AREAS_OFFSET = 8;

    public record Area(long offset, long size) {
        static final Struct<Area> STRUCT = Struct.of(Area.class, "SPARSE_MMAP area", Struct.u64("offset"), Struct.u64("size"));
    }

    public SparseMmapCap {
        areas = List.copyOf(areas);
    }

    @Override
    public int id() {
        return ID;
    }

    @Override
    public long bodySize() {
        return AREAS_OFFSET + (long) AREA_SIZE * areas.size();
    }

    @Override
    public void encodeBody(MemorySegment b) {
        encodeAreas(b, Area.STRUCT, areas);
    }

    public static SparseMmapCap decodeBody(MemorySegment b) throws ProtocolException {
        return new SparseMmapCap(decodeAreas(b, Area.STRUCT, "SPARSE_MMAP capability"));
    }

    static <A extends Record> void encodeAreas(MemorySegment b, Struct<A> area, List<A> areas) {
        Wire.put32(b, 0, areas.size());
        Wire.put32(b, 4, 0);
        area.encodeAll(b, AREAS_OFFSET, areas);
    }

    static <A extends Record> List<A> decodeAreas(MemorySegment b, Struct<A> area, String what) throws ProtocolException {
        Wire.need(b, AREAS_OFFSET, what);
        long n = Wire.u32(b, 0);
        Wire.need(b, AREAS_OFFSET + area.size() * n, what + " with " + n + " areas");
        return area.readAll(b, AREAS_OFFSET, n);
    }
}
