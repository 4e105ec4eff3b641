package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** MIG_DATA_READ (17) request: {@code argsz u32, size u32}; argsz ≥ 8 + size (the reply buffer offered). */
public record MigDataReadRequest(int argsz, int size) implements StructPayload {
    static final Struct<MigDataReadRequest> STRUCT = Struct.of(MigDataReadRequest.class, "MIG_DATA_READ",
            Struct.u32("argsz"), Struct.u32("size"));
    public static final int SIZE = STRUCT.size();

    public static MigDataReadRequest of(int size) {
        return new MigDataReadRequest(SIZE + size, size);
    }

    public static MigDataReadRequest decode(MemorySegment p) throws ProtocolException {
        return decode(p, VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE);
    }

    /** E2BIG when size exceeds {@code maxSize}; EINVAL when argsz &lt; 8 + size. */
    public static MigDataReadRequest decode(MemorySegment p, long maxSize) throws ProtocolException {
        MigDataReadRequest r = STRUCT.decode(p);
        Wire.noOversize(Integer.toUnsignedLong(r.size), maxSize, "MIG_DATA_READ size");
        Wire.argsz(ArgSz.unsigned(r.argsz), SIZE + Integer.toUnsignedLong(r.size), "MIG_DATA_READ");
        return r;
    }
}
