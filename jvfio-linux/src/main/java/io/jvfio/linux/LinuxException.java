package io.jvfio.linux;

import java.io.IOException;

/**
 * A failed Linux call: which call, and the errno it set. The message reads like
 * {@code connect /tmp/a.sock: ENOENT (No such file or directory)}.
 */
public final class LinuxException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public LinuxException(String call, int errno) {
        this(call, errno, call + ": " + Errno.format(errno));
    }

    /** {@code detail} names what the call was about, typically a path. */
    public LinuxException(String call, String detail, int errno) {
        this(call, errno, call + " " + detail + ": " + Errno.format(errno));
    }

    private LinuxException(String call, int errno, String message) {
        super(message);
        this.call = call;
        this.errno = errno;
    }

    /**
     * For failures this module detects itself rather than the kernel reporting them: the message is
     * {@code call: explanation (ENAME)}, e.g. {@code recvmsg: too many fds (EMSGSIZE)}.
     */
    static LinuxException explained(String call, String explanation, int errno) {
        return new LinuxException(call, errno, call + ": " + explanation + " (" + Errno.name(errno) + ")");
    }

    /** The failed call, e.g. {@code connect}. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    /** The symbolic errno name, e.g. {@code ENOENT}. */
    public String errnoName() {
        return Errno.name(errno);
    }
}
