package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** MIG_DATA_WRITE (18) reply as SPEC+ shows it. SPEC and libvfio-user send an empty payload: decode maps that to {@link #EMPTY} (argsz 0, size 0), which also encodes as 0 bytes: {@code argsz u32 @0, size u32 @4}. */
public record MigDataWriteReply(int argsz, int size) implements Payload {
    public static final int SIZE = 8;

    public static final MigDataWriteReply EMPTY = new MigDataWriteReply(0, 0);

    public static MigDataWriteReply decode(MemorySegment p) throws ProtocolException {
        if (p.byteSize() == 0) {
            return EMPTY;
        }
        Wire.need(p, SIZE, "MIG_DATA_WRITE reply");
        return new MigDataWriteReply(Wire.i32(p, 0), Wire.i32(p, 4));
    }

    @Override
    public long encodedSize() {
        return (this.equals(EMPTY) ? 0 : SIZE);
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
