package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u32;
import static io.jvfio.protocol.Struct.u64;

import java.lang.foreign.MemorySegment;

/** GET_PRECOPY_INFO (19, pending in SPEC+) request and reply, mirroring {@code struct vfio_precopy_info} ({@link #STRUCT}). */
public record PrecopyInfo(int argsz, int flags, long initialBytes, long dirtyBytes) implements StructPayload {
    static final Struct<PrecopyInfo> STRUCT = Struct.of(PrecopyInfo.class, "GET_PRECOPY_INFO",
            u32("argsz"), u32("flags"), u64("initialBytes"), u64("dirtyBytes")).checkingArgsz();
    public static final int SIZE = STRUCT.size();

    public static PrecopyInfo request() {
        return new PrecopyInfo(SIZE, 0, 0, 0);
    }

    public static PrecopyInfo reply(long initialBytes, long dirtyBytes) {
        return new PrecopyInfo(SIZE, 0, initialBytes, dirtyBytes);
    }

    public static PrecopyInfo decode(MemorySegment p) throws ProtocolException {
        return STRUCT.decode(p);
    }
}
