package io.jvfio.client;

import io.jvfio.linux.Errno;

/**
 * A call to a vfio-user server failed: the server answered with an errno, did not answer in
 * time, or went away. {@link #errno()} is the server's errno, or the local reason (ETIMEDOUT,
 * ENOTCONN, EPROTO).
 */
public final class VfioUserException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public VfioUserException(int errno, String message) {
        super(errno, message);
    }

    public VfioUserException(int errno, String message, Throwable cause) {
        super(errno, message, cause);
    }

    static VfioUserException serverError(String what, int errno) {
        return new VfioUserException(errno, what + ": server answered " + Errno.format(errno));
    }
}
