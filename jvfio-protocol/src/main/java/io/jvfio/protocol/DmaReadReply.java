package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * DMA_READ (11) reply, client→server: {@code address u64 @0, count u64 @8, data[count] @16} (spec; count =
 * {@code data.length}, may be shorter than requested). The QEMU 10.1 client declares count as u32, so its data
 * starts at @12: {@link #decode(MemorySegment, long, long)} recognises both layouts from the lengths.
 */
public record DmaReadReply(long address, byte[] data) implements Payload {
    public static final int SIZE = 16;
    /** Header size of the QEMU 10.1 layout (u32 count). */
    public static final int LEGACY_SIZE = 12;

    public DmaReadReply {
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
        return SIZE + data.length;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        encodeHeader(d, address, data.length);
        Wire.putBytes(d, SIZE, data);
    }

    /** Strict spec layout: payload exactly 16 + count bytes. */
    public static DmaReadReply decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DMA_READ reply");
        long count = Wire.i64(p, 8);
        if (Long.compareUnsigned(count, p.byteSize() - SIZE) != 0) {
            throw ProtocolException.invalid("DMA_READ reply: payload is " + p.byteSize() + " bytes, count "
                    + Long.toUnsignedString(count) + " needs " + (count + SIZE));
        }
        return new DmaReadReply(Wire.i64(p, 0), Wire.bytes(p, SIZE, count));
    }

    /**
     * Lenient decode for the reply to a DMA_READ of {@code expectedCount} bytes at {@code expectedAddress}:
     * accepts the spec layout (u64 count, data @16) and the QEMU 10.1 layout (u32 count, data @12). The two
     * cannot both be self-consistent (their lengths differ by 4 while the low 32 bits of count agree). The
     * address must be echoed and count ≤ expectedCount.
     */
    public static DmaReadReply decode(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        long start = dataOffset(p, expectedAddress, expectedCount);
        return new DmaReadReply(Wire.i64(p, 0), Wire.bytes(p, start, p.byteSize() - start));
    }

    /**
     * The checks of {@link #decode(MemorySegment, long, long)} without copying the data: returns
     * where the data starts in {@code p} (16, or 12 in the QEMU 10.1 layout); it runs to the end.
     */
    public static long dataOffset(MemorySegment p, long expectedAddress, long expectedCount) throws ProtocolException {
        Wire.need(p, LEGACY_SIZE, "DMA_READ reply");
        long len = p.byteSize();
        long start;
        long count;
        if (len >= SIZE && Wire.i64(p, 8) == len - SIZE) {
            start = SIZE;
            count = len - SIZE;
        } else if (Wire.u32(p, 8) == len - LEGACY_SIZE) {
            start = LEGACY_SIZE;
            count = len - LEGACY_SIZE;
        } else {
            throw ProtocolException.invalid("DMA_READ reply: " + len + " bytes match neither the u64-count nor the u32-count layout");
        }
        long address = Wire.i64(p, 0);
        if (address != expectedAddress) {
            throw ProtocolException.invalid("DMA_READ reply: address " + Wire.hex(address) + ", expected " + Wire.hex(expectedAddress));
        }
        if (Long.compareUnsigned(count, expectedCount) > 0) {
            throw ProtocolException.invalid("DMA_READ reply: count " + count + " exceeds the " + expectedCount + " requested");
        }
        return start;
    }

    /** Whether {@code d}'s first 16 bytes are those {@link #encodeHeader} writes for {@code address} and {@code count}. */
    public static boolean headerIs(MemorySegment d, long address, long count) {
        return d.byteSize() >= SIZE && Wire.i64(d, 0) == address && Wire.i64(d, 8) == count;
    }

    /** Writes the 16 bytes before the data of a reply of {@code count} bytes at {@code address} (the data follows at 16). */
    public static void encodeHeader(MemorySegment d, long address, long count) {
        Wire.checkDst(d, SIZE, "DMA_READ reply header");
        Wire.put64(d, 0, address);
        Wire.put64(d, 8, count);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DmaReadReply r && r.address == address && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(address) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "DmaReadReply[address=" + Wire.hex(address) + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
