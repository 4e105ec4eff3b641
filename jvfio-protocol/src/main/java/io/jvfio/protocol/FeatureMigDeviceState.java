package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_FEATURE MIG_DEVICE_STATE (2) data: {@code device_state u32, data_fd u32} (data_fd unused by
 * vfio-user: data moves via MIG_DATA_READ/WRITE; send -1 / 0xffffffff or 0).
 */
public record FeatureMigDeviceState(int deviceState, int dataFd) implements StructPayload {
    static final Struct<FeatureMigDeviceState> STRUCT = Struct.of(FeatureMigDeviceState.class,
            "DEVICE_FEATURE MIG_DEVICE_STATE", Struct.u32("deviceState"), Struct.u32("dataFd"));
    public static final int SIZE = STRUCT.size();

    public static FeatureMigDeviceState of(MigrationState state) {
        return new FeatureMigDeviceState(state.code(), -1);
    }

    /** The state; EINVAL for an unknown number. */
    public MigrationState state() throws ProtocolException {
        return MigrationState.fromCode(deviceState);
    }

    public static FeatureMigDeviceState decode(MemorySegment data) throws ProtocolException {
        FeatureMigDeviceState s = STRUCT.decode(data);
        MigrationState.fromCode(s.deviceState);
        return s;
    }
}
