package io.jvfio.client;

import java.io.IOException;

/**
 * A call on a {@link DeviceHandle} failed with an errno: the device refused it (its errno), or it
 * could not be made (ETIMEDOUT, ENOTCONN once the device is gone, EPROTO for an answer that makes no
 * sense). Each backend throws its own subclass; code written against {@link DeviceHandle} catches
 * this one.
 */
public class DeviceException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public DeviceException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public DeviceException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
