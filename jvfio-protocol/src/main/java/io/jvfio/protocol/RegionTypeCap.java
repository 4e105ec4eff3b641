package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_INFO_CAP_TYPE (id 2, version 1): {@code type u32, subtype u32}. */
public record RegionTypeCap(int type, int subtype) implements StructCapability {
    static final Struct<RegionTypeCap> STRUCT = Struct.of(RegionTypeCap.class, "region TYPE capability",
            Struct.u32("type"), Struct.u32("subtype"));
    public static final int ID = Vfio.REGION_INFO_CAP_TYPE;
    public static final int VERSION = 1;

    @Override
    public int id() {
        return ID;
    }

    public static RegionTypeCap decodeBody(MemorySegment b) throws ProtocolException {
        return STRUCT.decode(b);
    }
}
