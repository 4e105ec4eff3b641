package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * REGION_READ reply: {@code offset u64 @0, region u32 @8, count u32 @12, data[count] @16}; count is
 * {@code data.length} (see {@link RegionAccess} for the zero-allocation flyweight).
 */
public record RegionReadReply(long offset, int region, byte[] data) implements Payload {
    public RegionReadReply {
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
    public static RegionReadReply decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** Decodes; E2BIG when count exceeds {@code maxCount}, EINVAL unless the payload is exactly 16 + count bytes. */
    public static RegionReadReply decode(MemorySegment p, long maxCount) throws ProtocolException {
        RegionAccess.validate(p, maxCount, true);
        return new RegionReadReply(RegionAccess.offset(p), RegionAccess.region(p),
                Wire.bytes(p, RegionAccess.DATA_OFFSET, RegionAccess.count(p)));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RegionReadReply r && r.offset == offset && r.region == region && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return (Long.hashCode(offset) * 31 + region) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "RegionReadReply[offset=" + Wire.hex(offset) + ", region=" + region + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
