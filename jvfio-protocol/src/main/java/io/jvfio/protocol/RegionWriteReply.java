package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_WRITE reply: {@code offset u64 @0, region u32 @8, count u32 @12} (see {@link RegionAccess} for the flyweight). */
public record RegionWriteReply(long offset, int region, int count) implements Payload {
    public static final int SIZE = RegionAccess.SIZE;

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, SIZE, this);
        RegionAccess.write(d, offset, region, Integer.toUnsignedLong(count));
    }

    /** Decodes with the spec's default limit on count (1 MiB). */
    public static RegionWriteReply decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** Decodes; E2BIG when count exceeds {@code maxCount} (the negotiated max_data_xfer_size). */
    public static RegionWriteReply decode(MemorySegment p, long maxCount) throws ProtocolException {
        RegionAccess.validate(p, maxCount, false);
        return new RegionWriteReply(RegionAccess.offset(p), RegionAccess.region(p), (int) RegionAccess.count(p));
    }
}
