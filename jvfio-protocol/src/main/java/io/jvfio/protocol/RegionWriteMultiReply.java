package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_WRITE_MULTI (15) reply: {@code wr_cnt u64 @0}, the number of writes completed. */
public record RegionWriteMultiReply(long wrCnt) implements Payload {
    public static final int SIZE = 8;

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, SIZE, this);
        Wire.put64(d, 0, wrCnt);
    }

    public static RegionWriteMultiReply decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "REGION_WRITE_MULTI reply");
        return new RegionWriteMultiReply(Wire.i64(p, 0));
    }
}
