package io.jvfio.protocol;

import io.jvfio.linux.Errno;

/** {@code enum vfio_device_mig_state} from linux/vfio.h (migration v2). vfio-user does not use the P2P states. */
public enum MigrationState {
    ERROR(0),
    STOP(1),
    RUNNING(2),
    STOP_COPY(3),
    RESUMING(4),
    RUNNING_P2P(5),
    PRE_COPY(6),
    PRE_COPY_P2P(7);

    private static final MigrationState[] BY_CODE = values();

    private final int code;

    MigrationState(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** EINVAL for a number that names no state. */
    public static MigrationState fromCode(int code) throws ProtocolException {
        if (code < 0 || code >= BY_CODE.length) {
            throw new ProtocolException(Errno.EINVAL, "unknown migration state " + Integer.toUnsignedString(code));
        }
        return BY_CODE[code];
    }

    /** True for the states in which the device produces migration data (MIG_DATA_READ). */
    public boolean isSaving() {
        return this == STOP_COPY || this == PRE_COPY || this == PRE_COPY_P2P;
    }
}
