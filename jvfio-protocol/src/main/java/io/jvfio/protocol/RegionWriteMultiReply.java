package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** REGION_WRITE_MULTI (15) reply: {@code wr_cnt u64}, the number of writes completed. */
public record RegionWriteMultiReply(long wrCnt) implements StructPayload {
    static final Struct<RegionWriteMultiReply> STRUCT = Struct.of(RegionWriteMultiReply.class, "REGION_WRITE_MULTI reply",
            Struct.u64("wrCnt"));
    public static final int SIZE = STRUCT.size();

    public static RegionWriteMultiReply decode(MemorySegment p) throws ProtocolException {
        return STRUCT.decode(p);
    }
}
