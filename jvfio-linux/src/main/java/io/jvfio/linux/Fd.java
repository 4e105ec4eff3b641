package io.jvfio.linux;

import java.io.File;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An owned file descriptor, closed exactly once.
 *
 * <p>Calls made by this module hold the descriptor "in use" for their duration; a {@link #close()}
 * that races with such a call defers close(2) until the call returns. That way a number is never
 * closed (and possibly reused by another open) while one of our calls is still about to pass it to
 * the kernel. Code that takes {@link #value()} for its own native calls has no such protection and
 * must not race with close.
 */
public final class Fd implements AutoCloseable {
    /** Set in {@link #state} once close was requested; the low bits count calls in flight. */
    private static final int CLOSED = 1 << 30;

    private final int number;
    private final AtomicInteger state = new AtomicInteger();

    private Fd(int number) {
        this.number = number;
    }

    /** Takes ownership of {@code fd}: closing this object closes it. */
    public static Fd adopt(int fd) {
        if (fd < 0) throw new IllegalArgumentException("not a file descriptor: " + fd);
        return new Fd(fd);
    }

    /** The descriptor number. */
    public int value() {
        if ((state.get() & CLOSED) != 0) throw new IllegalStateException("fd closed");
        return number;
    }

    public boolean isOpen() {
        return (state.get() & CLOSED) == 0;
    }

    /** A new descriptor for the same open file, close-on-exec, owned by the caller. */
    public Fd duplicate() throws LinuxException {
        return new Fd(Linux.fcntl(this, Libc.F_DUPFD_CLOEXEC, 0, "F_DUPFD_CLOEXEC"));
    }

    /**
     * Marks the descriptor for use by a native call and returns its number; EBADF once closed.
     * Every successful acquire must be paired with {@link #release()}.
     */
    int acquire(String call) throws LinuxException {
        while (true) {
            int current = state.get();
            if ((current & CLOSED) != 0) throw LinuxException.explained(call, "fd closed", Errno.EBADF);
            if (state.compareAndSet(current, current + 1)) return number;
        }
    }

    /** Ends a use begun by {@link #acquire}; the last user after a close request does the close. */
    void release() {
        if (state.decrementAndGet() == CLOSED) closeNow();
    }

    /** Idempotent and never throws. close(2) errors are ignored: the descriptor is gone either way on Linux, and EINTR must not be retried. */
    @Override
    public void close() {
        while (true) {
            int current = state.get();
            if ((current & CLOSED) != 0) return;
            if (state.compareAndSet(current, current | CLOSED)) {
                if (current == 0) closeNow();
                return;
            }
        }
    }

    private void closeNow() {
        try {
            Syscalls.close(Libc.scratch().captureState, number);
        } catch (RuntimeException e) {
            // close() promises not to throw; a failing downcall here would be a bug in the binding.
        }
    }

    /** The number of open descriptors of this process (entries of /proc/self/fd), for leak checks. */
    public static int openFdCountOfProcess() {
        String[] entries = new File("/proc/self/fd").list();
        if (entries == null) throw new IllegalStateException("cannot list /proc/self/fd");
        return entries.length;
    }

    @Override
    public String toString() {
        return isOpen() ? "Fd[" + number + "]" : "Fd[closed]";
    }
}
