package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

/**
 * A Linux eventfd: a 64-bit counter that threads (and processes, once the fd is passed on) use
 * to wake each other. A read blocked forever is not woken by {@link #close()}; signal it instead.
 */
public final class EventFd implements AutoCloseable {
    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** eventfd(0, EFD_CLOEXEC): counter at zero, blocking reads. */
    public static EventFd create() throws LinuxException {
        return new EventFd(Fd.adopt(Syscalls.check(Syscalls.eventfd(Libc.scratch().captureState, 0, Libc.EFD_CLOEXEC),
                "eventfd")));
    }

    /** Wraps an eventfd received from elsewhere; this object owns it from now on. */
    public static EventFd adopt(Fd fd) {
        return new EventFd(fd);
    }

    /** Adds 1 to the counter, waking a reader. */
    public void signal() throws LinuxException {
        add(1);
    }

    /** Adds {@code value} to the counter (an 8-byte write). */
    public void add(long value) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment word = scratch.bytes.asSlice(0, 8);
        word.set(JAVA_LONG, 0, value);
        transferWord(scratch.captureState, word, true);
    }

    /** Waits until the counter is non-zero, then returns it and resets it to zero. */
    public long read() throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment word = scratch.bytes.asSlice(0, 8);
        transferWord(scratch.captureState, word, false);
        return word.get(JAVA_LONG, 0);
    }

    /** One 8-byte write ({@code writing}) or read of the counter, resumed after EINTR. */
    private void transferWord(MemorySegment capture, MemorySegment word, boolean writing) throws LinuxException {
        String call = writing ? "write" : "read";
        int number = fd.acquire(call);
        try {
            long result;
            do {
                result = writing ? Syscalls.write(capture, number, word, 8L) : Syscalls.read(capture, number, word, 8L);
            } while (result == -Errno.EINTR);
            Syscalls.check(result, call, "eventfd");
        } finally {
            fd.release();
        }
    }

    /**
     * Waits up to {@code timeout} for the counter to become non-zero, without consuming it. Returns
     * true if it is readable. Sub-millisecond remainders round up, so a tiny timeout still polls once.
     */
    public boolean await(Duration timeout) throws LinuxException {
        long millis;
        if (timeout.isNegative()) {
            millis = 0;
        } else {
            try {
                millis = timeout.plusNanos(999_999).toMillis();
            } catch (ArithmeticException tooLong) {
                millis = Integer.MAX_VALUE;
            }
        }
        int revents = Linux.poll(fd, Libc.POLLIN, (int) Math.min(millis, Integer.MAX_VALUE));
        return (revents & Libc.POLLIN) != 0;
    }

    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }
}
