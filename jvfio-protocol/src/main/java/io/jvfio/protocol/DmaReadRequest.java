package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** DMA_READ (11) request, server→client: the {@link DmaAccess} struct {@code address u64, count u64}. */
public record DmaReadRequest(long address, long count) implements StructPayload {
    static final Struct<DmaReadRequest> STRUCT = Struct.of(DmaReadRequest.class, "DMA_READ", DmaAccess.LAYOUT);
    public static final int SIZE = DmaAccess.SIZE;

    /** Writes a request for {@code count} bytes at {@code address} without making the record (the server's DMA path). */
    public static void encode(MemorySegment d, long address, long count) {
        DmaAccess.write(d, address, count, "DMA_READ");
    }

    public static DmaReadRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** E2BIG when count exceeds {@code maxCount}; EINVAL when address + count wraps. Allocates only the record. */
    public static DmaReadRequest decode(MemorySegment p, long maxCount) throws ProtocolException {
        long count = DmaAccess.validate(p, maxCount, false, "DMA_READ");
        return new DmaReadRequest(DmaAccess.address(p), count);
    }
}
