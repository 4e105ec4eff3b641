package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DMA_WRITE (12) reply, client→server: the {@link DmaAccess} struct {@code address u64, count u64} (SPEC+).
 * The QEMU 10.1 client answers with a bare header and the older SPEC text shows a u32 count;
 * {@link #decode(MemorySegment, long, long)} accepts all three forms.
 */
public record DmaWriteReply(long address, long count) implements StructPayload {
    static final Struct<DmaWriteReply> STRUCT = Struct.of(DmaWriteReply.class, "DMA_WRITE reply", DmaAccess.LAYOUT);
    public static final int SIZE = DmaAccess.SIZE;
    /** Size of the older layout with a u32 count. */
    private static final int LEGACY_SIZE = 12;

    /** Writes a reply for {@code count} bytes at {@code address} without making the record (the client's DMA path). */
    public static void encode(MemorySegment d, long address, long count) {
        DmaAccess.write(d, address, count, "DMA_WRITE reply");
    }

    /** Strict spec layout. */
    public static DmaWriteReply decode(MemorySegment p) throws ProtocolException {
        return STRUCT.decode(p);
    }

    /**
     * Lenient decode for the reply to a DMA_WRITE of {@code expectedCount} bytes at {@code expectedAddress}:
     * an empty payload (QEMU 10.1) means the whole write succeeded; 12 bytes (u32 count) and 16 bytes (u64
     * count) must echo the address, with count ≤ expectedCount.
     */
    public static DmaWriteReply decode(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        return new DmaWriteReply(expectedAddress, checkedCount(p, expectedAddress, expectedCount));
    }

    /** The count {@link #decode(MemorySegment, long, long)} would return, after its checks, without making the record. */
    public static long checkedCount(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        long len = p.byteSize();
        if (len == 0) {
            return expectedCount;
        } else if (len < LEGACY_SIZE) {
            throw ProtocolException.invalid("DMA_WRITE reply: payload is " + len + " bytes, needs 0, 12 or 16");
        }
        long address = DmaAccess.address(p);
        long count = len >= SIZE ? DmaAccess.count(p) : Wire.u32(p, DmaAccess.OFF_COUNT);
        if (address != expectedAddress) {
            throw ProtocolException.invalid("DMA_WRITE reply: address " + Wire.hex(address) + ", expected " + Wire.hex(expectedAddress));
        }
        if (Long.compareUnsigned(count, expectedCount) > 0) {
            throw ProtocolException.invalid("DMA_WRITE reply: count " + Long.toUnsignedString(count)
                    + " exceeds the " + expectedCount + " written");
        }
        return count;
    }
}
