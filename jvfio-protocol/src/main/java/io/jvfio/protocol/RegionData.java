package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * Region access with data: the REGION_READ reply and the REGION_WRITE request, which share one
 * layout: the {@link RegionAccess} struct, then {@code data[count]}; count is {@code data.length}.
 */
public record RegionData(long offset, int region, byte[] data) implements StructPayload {
    static final Struct<RegionData> STRUCT = Struct.of(RegionData.class, "region access", RegionAccess.LAYOUT);

    public RegionData { data = data.clone(); }
    @Override public byte[] data() { return data.clone(); }
    public int count() { return data.length; }

    /** Decodes with the spec's default limit on count (1 MiB). */
    public static RegionData decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** Decodes; E2BIG when count exceeds {@code maxCount}, EINVAL unless the payload is exactly 16 + count bytes. */
    public static RegionData decode(MemorySegment p, long maxCount) throws ProtocolException {
        RegionAccess.validate(p, maxCount, true);
        return STRUCT.read(p, RegionAccess.SIZE, Wire.bytes(p, RegionAccess.DATA_OFFSET, RegionAccess.count(p)));
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
