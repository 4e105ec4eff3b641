package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_WRITE reply: the {@link RegionAccess} struct without data, as {@link RegionReadRequest} (E2BIG above the limit). */
public record RegionWriteReply(long offset, int region, int count) implements StructPayload {
    static final Struct<RegionWriteReply> STRUCT = Struct.of(RegionWriteReply.class, "REGION_WRITE reply", RegionAccess.LAYOUT);
    public static final int SIZE = RegionAccess.SIZE;

    public static RegionWriteReply decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    public static RegionWriteReply decode(MemorySegment p, long maxCount) throws ProtocolException {
        return RegionAccess.decode(STRUCT, p, maxCount);
    }
}
