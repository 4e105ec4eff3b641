package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * MIG_DATA_WRITE (18) request; only in RESUMING, partial writes not allowed: {@code argsz u32 @0, size u32 @4, data[size] @8}; size = {@code data.length}.
 * Decode checks the payload is exactly 8 + size bytes, size ≤ the limit (E2BIG) and argsz ≥ 8 + size.
 */
public record MigDataWriteRequest(int argsz, byte[] data) implements Payload {
    public static final int SIZE = 8;

    public MigDataWriteRequest {
        data = data.clone();
    }

    public static MigDataWriteRequest of(byte[] data) {
        return new MigDataWriteRequest(SIZE + data.length, data);
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

    public static MigDataWriteRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    public static MigDataWriteRequest decode(MemorySegment p, long maxSize) throws ProtocolException {
        String what = "MIG_DATA_WRITE";
        Wire.need(p, SIZE, what);
        int argsz = Wire.i32(p, 0);
        long size = Wire.u32(p, 4);
        Wire.noOversize(size, maxSize, what + " size");
        if (p.byteSize() != SIZE + size) {
            throw ProtocolException.invalid(what + ": payload is " + p.byteSize() + " bytes, size " + size + " needs " + (SIZE + size));
        }
        Wire.argsz(ArgSz.unsigned(argsz), SIZE + size, what);
        return new MigDataWriteRequest(argsz, Wire.bytes(p, SIZE, size));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MigDataWriteRequest m && m.argsz == argsz && Arrays.equals(m.data, data);
    }

    @Override
    public int hashCode() {
        return argsz * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "MigDataWriteRequest[argsz=" + argsz + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
