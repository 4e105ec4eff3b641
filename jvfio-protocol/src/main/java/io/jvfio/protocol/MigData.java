package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * Migration data: the MIG_DATA_READ (17) reply and the MIG_DATA_WRITE (18) request, which share one
 * layout: {@code argsz u32, size u32, data[size]}; size = {@code data.length}. In a read reply a size
 * shorter than requested means "no more for now" (end of stream in STOP_COPY); a write is all-or-nothing.
 */
public record MigData(int argsz, byte[] data) implements StructPayload {
    static final Struct<MigData> STRUCT = Struct.of(MigData.class, "MIG_DATA", Struct.u32("argsz"), Struct.u32("size"));
    public static final int SIZE = STRUCT.size();

    public MigData { data = data.clone(); }

    public static MigData of(byte[] data) {
        return new MigData(SIZE + data.length, data);
    }

    @Override public byte[] data() { return data.clone(); }
    public int size() { return data.length; }

    public static MigData decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** Strict: the payload is exactly 8 + size bytes, size ≤ {@code maxSize} (E2BIG), argsz ≥ 8 + size. */
    public static MigData decode(MemorySegment p, long maxSize) throws ProtocolException {
        return decode(p, maxSize, false);
    }

    /**
     * For read replies: bytes after the {@code size} data bytes are ignored, because libvfio-user
     * pads each MIG_DATA_READ reply to the size that was asked for.
     */
    public static MigData decodeAllowingPadding(MemorySegment p, long maxSize) throws ProtocolException {
        return decode(p, maxSize, true);
    }

    private static MigData decode(MemorySegment p, long maxSize, boolean padding) throws ProtocolException {
        String what = STRUCT.what();
        Wire.need(p, SIZE, what);
        long size = Wire.u32(p, STRUCT.offset("size"));
        Wire.noOversize(size, maxSize, what + " size");
        if (padding ? p.byteSize() < SIZE + size : p.byteSize() != SIZE + size) {
            throw Wire.invalidLength(p, "size", size, SIZE, what);
        }
        MigData m = STRUCT.read(p, SIZE, Wire.bytes(p, SIZE, size));
        Wire.argsz(ArgSz.unsigned(m.argsz), SIZE + size, what);
        return m;
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
