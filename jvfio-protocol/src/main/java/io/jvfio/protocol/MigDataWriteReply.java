package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * MIG_DATA_WRITE (18) reply as SPEC+ shows it: {@code argsz u32, size u32}. SPEC and libvfio-user send an
 * empty payload: decode maps that to {@link #EMPTY} (argsz 0, size 0), which also encodes as 0 bytes.
 */
public record MigDataWriteReply(int argsz, int size) implements StructPayload {
    static final Struct<MigDataWriteReply> STRUCT = Struct.of(MigDataWriteReply.class, "MIG_DATA_WRITE reply",
            Struct.u32("argsz"), Struct.u32("size"));
    public static final int SIZE = STRUCT.size();

    public static final MigDataWriteReply EMPTY = new MigDataWriteReply(0, 0);

    public static MigDataWriteReply decode(MemorySegment p) throws ProtocolException {
        return p.byteSize() == 0 ? EMPTY : STRUCT.decode(p);
    }

    @Override
    public long encodedSize() {
        return equals(EMPTY) ? 0 : SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        if (!equals(EMPTY)) {
            STRUCT.encode(d, this);
        }
    }
}
