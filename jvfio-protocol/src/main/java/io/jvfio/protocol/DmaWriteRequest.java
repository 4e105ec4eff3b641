package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** DMA_WRITE (12) request, server→client: the {@link DmaAccess} struct, then {@code data[count]}; count = {@code data.length}. */
public record DmaWriteRequest(long address, byte[] data) implements StructPayload {
    static final Struct<DmaWriteRequest> STRUCT = Struct.of(DmaWriteRequest.class, "DMA_WRITE", DmaAccess.LAYOUT);
    public static final int SIZE = DmaAccess.SIZE;

    public DmaWriteRequest { data = data.clone(); }
    @Override public byte[] data() { return data.clone(); }
    public int count() { return data.length; }

    public static DmaWriteRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** E2BIG when count exceeds {@code maxCount}; EINVAL unless the payload is exactly 16 + count bytes. */
    public static DmaWriteRequest decode(MemorySegment p, long maxCount) throws ProtocolException {
        long count = validate(p, maxCount);
        return new DmaWriteRequest(address(p), Wire.bytes(p, SIZE, count));
    }

    /** The checks of {@link #decode(MemorySegment, long)} without copying the data: returns count (the data is at 16). */
    public static long validate(MemorySegment p, long maxCount) throws ProtocolException {
        return DmaAccess.validate(p, maxCount, true, "DMA_WRITE");
    }

    /** The address field of a DMA_WRITE payload (at least 8 bytes; see {@link #validate}). */
    public static long address(MemorySegment p) {
        return DmaAccess.address(p);
    }

    /** Writes the 16 bytes before the data of a request of {@code count} bytes at {@code address} (the data follows at 16). */
    public static void encodeHeader(MemorySegment d, long address, long count) {
        DmaAccess.write(d, address, count, "DMA_WRITE header");
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
