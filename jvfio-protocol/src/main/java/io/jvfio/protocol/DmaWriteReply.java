package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DMA_WRITE (12) reply, client→server: {@code address u64 @0, count u64 @8} (SPEC+). The QEMU 10.1 client
 * answers with a bare header and the older SPEC text shows a u32 count; {@link #decode(MemorySegment, long, long)}
 * accepts all three forms.
 */
public record DmaWriteReply(long address, long count) implements Payload {
    public static final int SIZE = 16;

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        encode(d, address, count);
    }

    /** Writes a reply for {@code count} bytes at {@code address} without making the record (the client's DMA path). */
    public static void encode(MemorySegment d, long address, long count) {
        Wire.checkDst(d, SIZE, "DMA_WRITE reply");
        Wire.put64(d, 0, address);
        Wire.put64(d, 8, count);
    }

    /** Strict spec layout. */
    public static DmaWriteReply decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DMA_WRITE reply");
        return new DmaWriteReply(Wire.i64(p, 0), Wire.i64(p, 8));
    }

    /**
     * Lenient decode for the reply to a DMA_WRITE of {@code expectedCount} bytes at {@code expectedAddress}:
     * an empty payload (QEMU 10.1) means the whole write succeeded; 12 bytes (u32 count) and 16 bytes (u64
     * count) must echo the address, with count ≤ expectedCount.
     */
    public static DmaWriteReply decode(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        long len = p.byteSize();
        DmaWriteReply r;
        if (len == 0) {
            return new DmaWriteReply(expectedAddress, expectedCount);
        } else if (len >= SIZE) {
            r = new DmaWriteReply(Wire.i64(p, 0), Wire.i64(p, 8));
        } else if (len >= 12) {
            r = new DmaWriteReply(Wire.i64(p, 0), Wire.u32(p, 8));
        } else {
            throw ProtocolException.invalid("DMA_WRITE reply: payload is " + len + " bytes, needs 0, 12 or 16");
        }
        if (r.address != expectedAddress) {
            throw ProtocolException.invalid("DMA_WRITE reply: address " + Wire.hex(r.address) + ", expected " + Wire.hex(expectedAddress));
        }
        if (Long.compareUnsigned(r.count, expectedCount) > 0) {
            throw ProtocolException.invalid("DMA_WRITE reply: count " + Long.toUnsignedString(r.count)
                    + " exceeds the " + expectedCount + " written");
        }
        return r;
    }
}
