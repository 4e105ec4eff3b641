package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;

/**
 * epoll, for one thread waiting on many fds. Each registration carries a caller-chosen token that
 * {@link #await} reports back. Registrations may change from any thread; waits are serialized.
 * Closing does not wake a thread blocked in {@link #await}: register an {@link EventFd} for that.
 */
public final class Epoll implements AutoCloseable {
    public static final int IN = 0x001;
    public static final int OUT = 0x004;
    public static final int ERR = 0x008;
    public static final int HUP = 0x010;
    public static final int RDHUP = 0x2000;

    private final Fd fd;
    private final ReentrantLock waitLock = new ReentrantLock();
    /** epoll_event array for epoll_wait; grown under waitLock, left to the GC when replaced. */
    private MemorySegment eventBuffer = MemorySegment.NULL;

    private Epoll(Fd fd) {
        this.fd = fd;
    }

    public static Epoll create() throws LinuxException {
        return new Epoll(Fd.adopt(Syscalls.check(Syscalls.epollCreate1(Libc.scratch().captureState,
                Libc.EPOLL_CLOEXEC), "epoll_create1")));
    }

    /** Watches {@code target} for {@code events} (IN, OUT, ...), reporting {@code token}. */
    public void add(Fd target, int events, long token) throws LinuxException {
        control(Libc.EPOLL_CTL_ADD, "EPOLL_CTL_ADD", target, events, token);
    }

    public void modify(Fd target, int events, long token) throws LinuxException {
        control(Libc.EPOLL_CTL_MOD, "EPOLL_CTL_MOD", target, events, token);
    }

    public void remove(Fd target) throws LinuxException {
        control(Libc.EPOLL_CTL_DEL, "EPOLL_CTL_DEL", target, 0, 0);
    }

    private void control(int operation, String operationName, Fd target, int events, long token)
            throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        // Old kernels demand a non-null event even for EPOLL_CTL_DEL, so always pass one.
        MemorySegment event = scratch.bytes.asSlice(0, Libc.EPOLL_EVENT.byteSize());
        event.set(JAVA_INT, Libc.EPOLL_EVENT_EVENTS, events);
        event.set(JAVA_LONG_UNALIGNED, Libc.EPOLL_EVENT_DATA, token);
        int epollNumber = fd.acquire("epoll_ctl");
        try {
            int targetNumber = target.acquire("epoll_ctl");
            try {
                int result = Syscalls.epollCtl(scratch.captureState, epollNumber, operation, targetNumber, event);
                if (result < 0) throw new LinuxException("epoll_ctl", operationName + " " + target, -result);
            } finally {
                target.release();
            }
        } finally {
            fd.release();
        }
    }

    /**
     * Waits for events: fills {@code tokens[i]} and {@code events[i]} for each ready registration and
     * returns how many there are, 0 on timeout or when a signal interrupted the wait.
     * {@code timeoutMillis} -1 waits forever.
     */
    public int await(long[] tokens, int[] events, int timeoutMillis) throws LinuxException {
        int capacity = Math.min(tokens.length, events.length);
        if (capacity == 0) throw new IllegalArgumentException("no room for events");
        long eventSize = Libc.EPOLL_EVENT.byteSize();
        MemorySegment captureState = Libc.scratch().captureState;
        waitLock.lock();
        try {
            if (eventBuffer.byteSize() < capacity * eventSize) {
                eventBuffer = Arena.ofAuto().allocate(capacity * eventSize, 8);
            }
            int number = fd.acquire("epoll_wait");
            int ready;
            try {
                ready = Syscalls.epollWait(captureState, number, eventBuffer, capacity, timeoutMillis);
            } finally {
                fd.release();
            }
            if (ready == -Errno.EINTR) return 0;
            Syscalls.check(ready, "epoll_wait");
            for (int i = 0; i < ready; i++) {
                long base = i * eventSize;
                events[i] = eventBuffer.get(JAVA_INT, base + Libc.EPOLL_EVENT_EVENTS);
                tokens[i] = eventBuffer.get(JAVA_LONG_UNALIGNED, base + Libc.EPOLL_EVENT_DATA);
            }
            return ready;
        } finally {
            waitLock.unlock();
        }
    }

    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }
}
