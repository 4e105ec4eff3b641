package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_FEATURE MIG_DEVICE_STATE (2) data: {@code device_state u32 @0, data_fd u32 @4} (data_fd unused by
 * vfio-user: data moves via MIG_DATA_READ/WRITE; send -1 / 0xffffffff or 0).
 */
public record FeatureMigDeviceState(int deviceState, int dataFd) implements Payload {
    public static final int SIZE = 8;

    public static FeatureMigDeviceState of(MigrationState state) {
        return new FeatureMigDeviceState(state.code(), -1);
    }

    /** The state; EINVAL for an unknown number. */
    public MigrationState state() throws ProtocolException {
        return MigrationState.fromCode(deviceState);
    }

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, SIZE, this);
        Wire.put32(d, 0, deviceState);
        Wire.put32(d, 4, dataFd);
    }

    public static FeatureMigDeviceState decode(MemorySegment data) throws ProtocolException {
        Wire.need(data, SIZE, "DEVICE_FEATURE MIG_DEVICE_STATE");
        FeatureMigDeviceState s = new FeatureMigDeviceState(Wire.i32(data, 0), Wire.i32(data, 4));
        MigrationState.fromCode(s.deviceState);
        return s;
    }
}
