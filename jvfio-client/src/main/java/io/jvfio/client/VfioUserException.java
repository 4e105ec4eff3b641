package io.jvfio.client;

import io.jvfio.linux.Errno;
import java.io.IOException;

/**
 * A call to a vfio-user server failed: the server answered with an errno, did not answer in
 * time, or went away. {@link #errno()} is the server's errno, or the local reason (ETIMEDOUT,
 * ENOTCONN, EPROTO).
 */
public final class VfioUserException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public VfioUserException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public VfioUserException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    static VfioUserException serverError(String what, int errno) {
        return new VfioUserException(errno, what + ": server answered " + Errno.format(errno));
    }
}
