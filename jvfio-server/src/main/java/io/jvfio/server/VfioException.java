package io.jvfio.server;

import io.jvfio.linux.Errno;

/** A device operation failed; the session answers the client's command with {@link #errno()}. */
public class VfioException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public VfioException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public VfioException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /** A positive Linux errno, e.g. {@link Errno#EINVAL}. */
    public int errno() {
        return errno;
    }

    public static VfioException invalid(String message) {
        return new VfioException(Errno.EINVAL, message);
    }
}
