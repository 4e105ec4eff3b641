package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** DEVICE_FEATURE MIGRATION (1) data: {@code flags u64} = {@link Vfio#MIGRATION_STOP_COPY} (required) | P2P | PRE_COPY. */
public record FeatureMigration(long flags) implements StructPayload {
    static final Struct<FeatureMigration> STRUCT = Struct.of(FeatureMigration.class, "DEVICE_FEATURE MIGRATION",
            Struct.u64("flags"));
    public static final int SIZE = STRUCT.size();

    public boolean preCopy() {
        return (flags & Vfio.MIGRATION_PRE_COPY) != 0;
    }

    public static FeatureMigration decode(MemorySegment data) throws ProtocolException {
        FeatureMigration m = STRUCT.decode(data);
        if ((m.flags & Vfio.MIGRATION_STOP_COPY) == 0) {
            throw ProtocolException.invalid("DEVICE_FEATURE MIGRATION: STOP_COPY is mandatory, flags " + Wire.hex(m.flags));
        }
        return m;
    }
}
