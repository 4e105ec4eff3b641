package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Migration data: the MIG_DATA_READ (17) reply and the MIG_DATA_WRITE (18) request, which share one
 * layout: {@code argsz u32 @0, size u32 @4, data[size] @8}; size = {@code data.length}. In a read
 * reply a size shorter than requested means "no more for now" (end of stream in STOP_COPY); a write
 * is all-or-nothing.
 */
public record MigData(int argsz, byte[] data) implements Payload {
    public static final int SIZE = 8;

    public MigData {
        data = data.clone();
    }

    public static MigData of(byte[] data) {
        return new MigData(SIZE + data.length, data);
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    public int size() {
        return data.length;
    }

    @Override
    public long encodedSize() {
        return SIZE + data.length;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, data.length);
        Wire.putBytes(d, SIZE, data);
    }

    public static MigData decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
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
        String what = "MIG_DATA";
        Wire.need(p, SIZE, what);
        int argsz = Wire.i32(p, 0);
        long size = Wire.u32(p, 4);
        Wire.noOversize(size, maxSize, what + " size");
        if (padding ? p.byteSize() < SIZE + size : p.byteSize() != SIZE + size) {
            throw ProtocolException.invalid(what + ": payload is " + p.byteSize() + " bytes, size " + size + " needs " + (SIZE + size));
        }
        Wire.argsz(ArgSz.unsigned(argsz), SIZE + size, what);
        return new MigData(argsz, Wire.bytes(p, SIZE, size));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MigData m && m.argsz == argsz && Arrays.equals(m.data, data);
    }

    @Override
    public int hashCode() {
        return argsz * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "MigData[argsz=" + argsz + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
