package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** DMA_READ (11) request, server→client: {@code address u64 @0, count u64 @8}. */
public record DmaReadRequest(long address, long count) implements Payload {
    public static final int SIZE = 16;

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        encode(d, address, count);
    }

    /** Writes a request for {@code count} bytes at {@code address} without making the record (the server's DMA path). */
    public static void encode(MemorySegment d, long address, long count) {
        Wire.checkDst(d, SIZE, "DMA_READ");
        Wire.put64(d, 0, address);
        Wire.put64(d, 8, count);
    }

    public static DmaReadRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** E2BIG when count exceeds {@code maxCount}; EINVAL when address + count wraps. */
    public static DmaReadRequest decode(MemorySegment p, long maxCount) throws ProtocolException {
        Wire.need(p, SIZE, "DMA_READ");
        DmaReadRequest r = new DmaReadRequest(Wire.i64(p, 0), Wire.i64(p, 8));
        Wire.noOversize(r.count, maxCount, "DMA_READ");
        if (Wire.wraps(r.address, r.count)) {
            throw ProtocolException.invalid("DMA_READ: address " + Wire.hex(r.address) + " + count " + r.count + " wraps around");
        }
        return r;
    }
}
