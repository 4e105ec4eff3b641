package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_INFO_CAP_TYPE (id 2, version 1): {@code type u32, subtype u32}. */
public record RegionTypeCap(int type, int subtype) implements Capability {
    public static final int ID = Vfio.REGION_INFO_CAP_TYPE;
    public static final int VERSION = 1;

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
        return 8;
    }

    @Override
    public void encodeBody(MemorySegment b) {
        Wire.put32(b, 0, type);
        Wire.put32(b, 4, subtype);
    }

    public static RegionTypeCap decodeBody(MemorySegment b) throws ProtocolException {
        Wire.need(b, 8, "region TYPE capability");
        return new RegionTypeCap(Wire.i32(b, 0), Wire.i32(b, 4));
    }
}
