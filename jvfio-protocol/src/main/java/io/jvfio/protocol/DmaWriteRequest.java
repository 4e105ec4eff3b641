package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/** DMA_WRITE (12) request, server→client: {@code address u64 @0, count u64 @8, data[count] @16}; count = {@code data.length}. */
public record DmaWriteRequest(long address, byte[] data) implements Payload {
    public static final int SIZE = 16;

    public DmaWriteRequest {
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

    public static DmaWriteRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** E2BIG when count exceeds {@code maxCount}; EINVAL unless the payload is exactly 16 + count bytes. */
    public static DmaWriteRequest decode(MemorySegment p, long maxCount) throws ProtocolException {
        long count = validate(p, maxCount);
        return new DmaWriteRequest(address(p), Wire.bytes(p, SIZE, count));
    }

    /** The checks of {@link #decode(MemorySegment, long)} without copying the data: returns count (the data is at 16). */
    public static long validate(MemorySegment p, long maxCount) throws ProtocolException {
        Wire.need(p, SIZE, "DMA_WRITE");
        long address = Wire.i64(p, 0);
        long count = Wire.i64(p, 8);
        Wire.noOversize(count, maxCount, "DMA_WRITE");
        if (count != p.byteSize() - SIZE) {
            throw ProtocolException.invalid("DMA_WRITE: payload is " + p.byteSize() + " bytes, count " + count
                    + " needs " + (SIZE + count));
        }
        if (Wire.wraps(address, count)) {
            throw ProtocolException.invalid("DMA_WRITE: address " + Wire.hex(address) + " + count " + count + " wraps around");
        }
        return count;
    }

    /** The address field of a DMA_WRITE payload (at least 8 bytes; see {@link #validate}). */
    public static long address(MemorySegment p) {
        return Wire.i64(p, 0);
    }

    /** Writes the 16 bytes before the data of a request of {@code count} bytes at {@code address} (the data follows at 16). */
    public static void encodeHeader(MemorySegment d, long address, long count) {
        Wire.checkDst(d, SIZE, "DMA_WRITE header");
        Wire.put64(d, 0, address);
        Wire.put64(d, 8, count);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DmaWriteRequest r && r.address == address && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(address) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "DmaWriteRequest[address=" + Wire.hex(address) + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
