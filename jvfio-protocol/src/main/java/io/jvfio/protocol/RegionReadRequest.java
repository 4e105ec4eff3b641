package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_READ request: the {@link RegionAccess} struct without data. */
public record RegionReadRequest(long offset, int region, int count) implements StructPayload {
    static final Struct<RegionReadRequest> STRUCT = Struct.of(RegionReadRequest.class, "REGION_READ", RegionAccess.LAYOUT);
    public static final int SIZE = RegionAccess.SIZE;

    /** Decodes with the spec's default limit on count (1 MiB). */
    public static RegionReadRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** Decodes; E2BIG when count exceeds {@code maxCount} (the negotiated max_data_xfer_size). */
    public static RegionReadRequest decode(MemorySegment p, long maxCount) throws ProtocolException {
        return RegionAccess.decode(STRUCT, p, maxCount);
    }
}
