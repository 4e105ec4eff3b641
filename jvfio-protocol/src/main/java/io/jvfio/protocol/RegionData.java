package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Region access with data: the REGION_READ reply and the REGION_WRITE request, which share one
 * layout: {@code offset u64 @0, region u32 @8, count u32 @12, data[count] @16}; count is
 * {@code data.length} (see {@link RegionAccess} for the zero-allocation flyweight).
 */
public record RegionData(long offset, int region, byte[] data) implements Payload {
    public RegionData {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    public int count() {
        return data.length;
    }

    @Override
    public long encodedSize() {
        return RegionAccess.SIZE + data.length;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        RegionAccess.write(d, offset, region, data.length);
        Wire.putBytes(d, RegionAccess.DATA_OFFSET, data);
    }

    /** Decodes with the spec's default limit on count (1 MiB). */
    public static RegionData decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** Decodes; E2BIG when count exceeds {@code maxCount}, EINVAL unless the payload is exactly 16 + count bytes. */
    public static RegionData decode(MemorySegment p, long maxCount) throws ProtocolException {
        RegionAccess.validate(p, maxCount, true);
        return new RegionData(RegionAccess.offset(p), RegionAccess.region(p),
                Wire.bytes(p, RegionAccess.DATA_OFFSET, RegionAccess.count(p)));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RegionData r && r.offset == offset && r.region == region && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return (Long.hashCode(offset) * 31 + region) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "RegionData[offset=" + Wire.hex(offset) + ", region=" + region + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
