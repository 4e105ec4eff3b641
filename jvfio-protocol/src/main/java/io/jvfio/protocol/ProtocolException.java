package io.jvfio.protocol;

import io.jvfio.linux.Errno;

/**
 * A message from the peer (or a message we were asked to build) violates the vfio-user wire format.
 *
 * <p>{@link #errno()} is the Linux errno a server should put into the error reply: usually
 * {@link Errno#EINVAL}, {@link Errno#ENOSYS} for an unknown command, {@link Errno#E2BIG} for a message or
 * a transfer count over the negotiated limit. The message names the command and the violated rule, e.g.
 * {@code "DMA_MAP: payload is 20 bytes, needs 32"}.
 */
public final class ProtocolException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public ProtocolException(int errno, String message) {
        super(message);
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive: " + errno);
        }
        this.errno = errno;
    }

    /** The positive Linux errno to answer with. */
    public int errno() {
        return errno;
    }

    static ProtocolException invalid(String message) {
        return new ProtocolException(Errno.EINVAL, message);
    }

    @Override
    public String toString() {
        return "ProtocolException[" + Errno.name(errno) + "]: " + getMessage();
    }
}
