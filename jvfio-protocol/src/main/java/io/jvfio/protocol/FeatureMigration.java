package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** DEVICE_FEATURE MIGRATION (1) data: {@code flags u64} = {@link Vfio#MIGRATION_STOP_COPY} (required) | P2P | PRE_COPY. */
public record FeatureMigration(long flags) implements Payload {
    public static final int SIZE = 8;

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, SIZE, this);
        Wire.put64(d, 0, flags);
    }

    public boolean preCopy() {
        return (flags & Vfio.MIGRATION_PRE_COPY) != 0;
    }

    public static FeatureMigration decode(MemorySegment data) throws ProtocolException {
        Wire.need(data, SIZE, "DEVICE_FEATURE MIGRATION");
        FeatureMigration m = new FeatureMigration(Wire.i64(data, 0));
        if ((m.flags & Vfio.MIGRATION_STOP_COPY) == 0) {
            throw ProtocolException.invalid("DEVICE_FEATURE MIGRATION: STOP_COPY is mandatory, flags " + Wire.hex(m.flags));
        }
        return m;
    }
}
