package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * GET_PRECOPY_INFO (19, pending in SPEC+) request and reply, mirroring {@code struct vfio_precopy_info}:
 * {@code argsz u32 @0, flags u32 @4, initial_bytes u64 @8, dirty_bytes u64 @16}.
 */
public record PrecopyInfo(int argsz, int flags, long initialBytes, long dirtyBytes) implements Payload {
    public static final int SIZE = 24;

    public static PrecopyInfo request() {
        return new PrecopyInfo(SIZE, 0, 0, 0);
    }

    public static PrecopyInfo reply(long initialBytes, long dirtyBytes) {
        return new PrecopyInfo(SIZE, 0, initialBytes, dirtyBytes);
    }

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, SIZE, this);
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, flags);
        Wire.put64(d, 8, initialBytes);
        Wire.put64(d, 16, dirtyBytes);
    }

    public static PrecopyInfo decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "GET_PRECOPY_INFO");
        PrecopyInfo i = new PrecopyInfo(Wire.i32(p, 0), Wire.i32(p, 4), Wire.i64(p, 8), Wire.i64(p, 16));
        Wire.argsz(ArgSz.unsigned(i.argsz), SIZE, "GET_PRECOPY_INFO");
        return i;
    }
}
