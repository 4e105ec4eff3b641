package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** MIG_DATA_READ (17) request; argsz ≥ 8 + size (the reply buffer offered): {@code argsz u32 @0, size u32 @4}. */
public record MigDataReadRequest(int argsz, int size) implements Payload {
    public static final int SIZE = 8;

    /** E2BIG when size exceeds {@code maxSize}; EINVAL when argsz &lt; 8 + size. */
    public static MigDataReadRequest decode(MemorySegment p, long maxSize) throws ProtocolException {
        Wire.need(p, SIZE, "MIG_DATA_READ");
        MigDataReadRequest r = new MigDataReadRequest(Wire.i32(p, 0), Wire.i32(p, 4));
        Wire.noOversize(Integer.toUnsignedLong(r.size), maxSize, "MIG_DATA_READ size");
        Wire.argsz(ArgSz.unsigned(r.argsz), SIZE + Integer.toUnsignedLong(r.size), "MIG_DATA_READ");
        return r;
    }

    public static MigDataReadRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, Capabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    public static MigDataReadRequest of(int size) {
        return new MigDataReadRequest(SIZE + size, size);
    }

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        if (encodedSize() == 0) {
            return;
        }
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, size);
    }
}
