package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * MIG_DATA_READ (17) reply; a size shorter than requested means no more data for now: {@code argsz u32 @0, size u32 @4, data[size] @8}; size = {@code data.length}.
 * Decode checks the payload is exactly 8 + size bytes, size ≤ the limit (E2BIG) and argsz ≥ 8 + size.
 */
public record MigDataReadReply(int argsz, byte[] data) implements Payload {
    public static final int SIZE = 8;

    public MigDataReadReply {
        data = data.clone();
    }

    public static MigDataReadReply of(byte[] data) {
        return new MigDataReadReply(SIZE + data.length, data);
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

    public static MigDataReadReply decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    public static MigDataReadReply decode(MemorySegment p, long maxSize) throws ProtocolException {
        String what = "MIG_DATA_READ reply";
        Wire.need(p, SIZE, what);
        int argsz = Wire.i32(p, 0);
        long size = Wire.u32(p, 4);
        Wire.noOversize(size, maxSize, what + " size");
        if (p.byteSize() != SIZE + size) {
            throw ProtocolException.invalid(what + ": payload is " + p.byteSize() + " bytes, size " + size + " needs " + (SIZE + size));
        }
        Wire.argsz(ArgSz.unsigned(argsz), SIZE + size, what);
        return new MigDataReadReply(argsz, Wire.bytes(p, SIZE, size));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MigDataReadReply m && m.argsz == argsz && Arrays.equals(m.data, data);
    }

    @Override
    public int hashCode() {
        return argsz * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "MigDataReadReply[argsz=" + argsz + ", data=" + HexFormat.of().formatHex(data) + "]";
    }
}
