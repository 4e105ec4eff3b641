package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DMA_READ (11) reply, client→server: the {@link DmaAccess} struct {@code address u64, count u64}, then
 * {@code data[count]} (spec; count = {@code data.length}, may be shorter than requested). The QEMU 10.1 client
 * declares count as u32, so its data starts at @12: {@link #decode(MemorySegment, long, long)} recognises both
 * layouts from the lengths.
 */
public record DmaReadReply(long address, byte[] data) implements StructPayload {
    static final Struct<DmaReadReply> STRUCT = Struct.of(DmaReadReply.class, "DMA_READ reply", DmaAccess.LAYOUT);
    public static final int SIZE = DmaAccess.SIZE;
    /** Header size of the QEMU 10.1 layout (u32 count). */
    public static final int LEGACY_SIZE = 12;

    public DmaReadReply { data = data.clone(); }
    @Override public byte[] data() { return data.clone(); }
    public int count() { return data.length; }

    /** Strict spec layout: payload exactly 16 + count bytes. */
    public static DmaReadReply decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DMA_READ reply");
        long count = DmaAccess.count(p);
        if (Long.compareUnsigned(count, p.byteSize() - SIZE) != 0) {
            throw Wire.invalidLength(p, "count", count, SIZE, "DMA_READ reply");
        }
        return new DmaReadReply(DmaAccess.address(p), Wire.bytes(p, SIZE, count));
    }

    /**
     * Lenient decode for the reply to a DMA_READ of {@code expectedCount} bytes at {@code expectedAddress}:
     * accepts the spec layout (u64 count, data @16) and the QEMU 10.1 layout (u32 count, data @12). The two
     * cannot both be self-consistent (their lengths differ by 4 while the low 32 bits of count agree). The
     * address must be echoed and count ≤ expectedCount.
     */
    public static DmaReadReply decode(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        long start = dataOffset(p, expectedAddress, expectedCount);
        return new DmaReadReply(DmaAccess.address(p), Wire.bytes(p, start, p.byteSize() - start));
    }

    /**
     * The checks of {@link #decode(MemorySegment, long, long)} without copying the data: returns
     * where the data starts in {@code p} (16, or 12 in the QEMU 10.1 layout); it runs to the end.
     */
    public static long dataOffset(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        Wire.need(p, LEGACY_SIZE, "DMA_READ reply");
        long len = p.byteSize();
        long start;
        if (len >= SIZE && DmaAccess.count(p) == len - SIZE) {
            start = SIZE;
        } else if (Wire.u32(p, DmaAccess.OFF_COUNT) == len - LEGACY_SIZE) {
            start = LEGACY_SIZE;
        } else {
            throw ProtocolException.invalid("DMA_READ reply: " + len + " bytes match neither the u64-count nor the u32-count layout");
        }
        long address = DmaAccess.address(p);
        if (address != expectedAddress) {
            throw ProtocolException.invalid("DMA_READ reply: address " + Wire.hex(address) + ", expected " + Wire.hex(expectedAddress));
        }
        if (Long.compareUnsigned(len - start, expectedCount) > 0) {
            throw ProtocolException.invalid("DMA_READ reply: count " + (len - start) + " exceeds the " + expectedCount + " requested");
        }
        return start;
    }

    /** Whether {@code d}'s first 16 bytes are those {@link #encodeHeader} writes for {@code address} and {@code count}. */
    public static boolean headerIs(MemorySegment d, long address, long count) {
        return headerIs(d, 0, address, count);
    }

    /** {@link #headerIs(MemorySegment, long, long)} of the 16 bytes at {@code offset} of {@code d}: no slice to allocate. */
    public static boolean headerIs(MemorySegment d, long offset, long address, long count) {
        return d.byteSize() - offset >= SIZE && Wire.i64(d, offset + DmaAccess.OFF_ADDRESS) == address
                && Wire.i64(d, offset + DmaAccess.OFF_COUNT) == count;
    }

    /** Writes the 16 bytes before the data of a reply of {@code count} bytes at {@code address} (the data follows at 16). */
    public static void encodeHeader(MemorySegment d, long address, long count) {
        DmaAccess.write(d, address, count, "DMA_READ reply header");
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
