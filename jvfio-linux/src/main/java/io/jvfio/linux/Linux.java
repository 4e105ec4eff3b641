package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** Plain system calls on file descriptors. */
public final class Linux {
    private Linux() {}

    /** The system page size (sysconf(_SC_PAGESIZE)). */
    public static final long PAGE_SIZE = Libc.pageSize();

    // memfd seals (fcntl F_ADD_SEALS / F_GET_SEALS, linux/fcntl.h)
    /** The seal bits of fcntl(F_GET_SEALS) / F_ADD_SEALS. */
    public static final int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;
    private static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;

    /** st_size of fstat(2). */
    public static long fileSize(Fd fd) throws LinuxException {
        return fstat(fd).get(JAVA_LONG, Libc.ST_SIZE);
    }

    /** The bytes the file system has allocated to the file: st_blocks of fstat(2), in bytes. */
    public static long allocatedBytes(Fd fd) throws LinuxException {
        return fstat(fd).get(JAVA_LONG, Libc.ST_BLOCKS) * Libc.ST_BLOCK_UNIT;
    }

    /** True for regular files, which includes memfds: the kinds of fd that can back a shared mapping of a size. */
    public static boolean isRegularFileOrMemfd(Fd fd) throws LinuxException {
        return (fstat(fd).get(JAVA_INT, Libc.ST_MODE) & Libc.S_IFMT) == Libc.S_IFREG;
    }

    /** True if {@code fd} refers to a socket. */
    public static boolean isSocket(Fd fd) throws LinuxException {
        return (fstat(fd).get(JAVA_INT, Libc.ST_MODE) & Libc.S_IFMT) == Libc.S_IFSOCK;
    }

    /** Fills the thread's scratch with the struct stat of {@code fd} and returns it. */
    private static MemorySegment fstat(Fd fd) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment stat = scratch.bytes.asSlice(0, Libc.STAT.byteSize());
        int number = fd.acquire("fstat");
        try {
            Syscalls.check(Syscalls.fstat(scratch.captureState, number, stat), "fstat");
            return stat;
        } finally {
            fd.release();
        }
    }

    /**
     * poll(2) on one fd for {@code events} (POLLIN = 1, POLLOUT = 4, ...); returns the revents, 0 on
     * timeout. {@code timeoutMillis} -1 waits forever. An interrupted wait resumes for the time left.
     */
    public static int poll(Fd fd, int events, int timeoutMillis) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment pollfd = scratch.bytes; // its start is the struct pollfd (no slice: nothing allocated)
        long deadline = timeoutMillis < 0 ? 0 : System.nanoTime() + timeoutMillis * 1_000_000L;
        int remaining = timeoutMillis;
        int number = fd.acquire("poll");
        try {
            while (true) {
                setPollfd(pollfd, 0, number, events);
                int ready = Syscalls.poll(scratch.captureState, pollfd, 1L, remaining);
                if (ready > 0) return pollfd.get(JAVA_SHORT, Libc.POLLFD_REVENTS) & 0xFFFF;
                if (ready == 0) return 0;
                if (ready != -Errno.EINTR) Syscalls.check(ready, "poll");
                if (timeoutMillis >= 0) {
                    remaining = (int) Math.max(0, (deadline - System.nanoTime() + 999_999) / 1_000_000);
                }
            }
        } finally {
            fd.release();
        }
    }

    /**
     * poll(2) on two fds for POLLIN; returns a bit mask: 1 when {@code first} has input (or hung up,
     * or failed), 2 when {@code second} has; 0 on timeout. {@code timeoutMillis} -1 waits forever;
     * an interrupted wait returns 0 (callers loop anyway). Allocation-free.
     */
    public static int pollIn(Fd first, Fd second, int timeoutMillis) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        long size = Libc.POLLFD.byteSize();
        MemorySegment pollfds = scratch.bytes; // starts with the two struct pollfd
        int a = first.acquire("poll");
        try {
            int b = second.acquire("poll");
            try {
                setPollfd(pollfds, 0, a, 1);
                setPollfd(pollfds, size, b, 1);
                int ready = Syscalls.poll(scratch.captureState, pollfds, 2L, timeoutMillis);
                if (ready <= 0) {
                    if (ready != -Errno.EINTR) Syscalls.check(ready, "poll");
                    return 0;
                }
                return (pollfds.get(JAVA_SHORT, Libc.POLLFD_REVENTS) != 0 ? 1 : 0)
                        | (pollfds.get(JAVA_SHORT, size + Libc.POLLFD_REVENTS) != 0 ? 2 : 0);
            } finally {
                second.release();
            }
        } finally {
            first.release();
        }
    }

    private static void setPollfd(MemorySegment pollfds, long at, int fd, int events) {
        pollfds.set(JAVA_INT, at + Libc.POLLFD_FD, fd);
        pollfds.set(JAVA_SHORT, at + Libc.POLLFD_EVENTS, (short) events);
        pollfds.set(JAVA_SHORT, at + Libc.POLLFD_REVENTS, (short) 0);
    }

    /** Reads at {@code offset} until {@code dst} is full or the file ends; returns the bytes read. */
    public static long pread(Fd fd, MemorySegment dst, long offset) throws LinuxException {
        return transfer(fd, dst, offset, false);
    }

    /** Writes all of {@code src} at {@code offset}; returns its size. */
    public static long pwrite(Fd fd, MemorySegment src, long offset) throws LinuxException {
        return transfer(fd, src, offset, true);
    }

    /**
     * One read(2) into native {@code dst} (a stream without offsets, such as a VFIO migration data
     * fd), resumed after EINTR; returns the bytes read, 0 at the end.
     */
    public static long read(Fd fd, MemorySegment dst) throws LinuxException {
        return stream(fd, dst, false);
    }

    /** Writes all of native {@code src} with write(2), over partial writes and EINTR. */
    public static void write(Fd fd, MemorySegment src) throws LinuxException {
        long done = 0;
        while (done < src.byteSize()) {
            done += stream(fd, src.asSlice(done), true);
        }
    }

    private static long stream(Fd fd, MemorySegment data, boolean writing) throws LinuxException {
        if (!data.isNative()) throw new IllegalArgumentException("read/write of heap memory");
        String call = writing ? "write" : "read";
        MemorySegment capture = Libc.scratch().captureState;
        int number = fd.acquire(call);
        try {
            long n;
            do {
                n = writing ? Syscalls.write(capture, number, data, data.byteSize())
                        : Syscalls.read(capture, number, data, data.byteSize());
            } while (n == -Errno.EINTR);
            return Syscalls.check(n, call);
        } finally {
            fd.release();
        }
    }

    /**
     * Fills every range of {@code vectors} from the file at {@code offset} with preadv(2), over
     * partial transfers and EINTR; EIO if the file ends first. {@code vectors} is consumed (its
     * entries are advanced in place). Allocates nothing.
     */
    public static void preadv(Fd fd, IoVectors vectors, long offset) throws LinuxException {
        transfer(fd, vectors, offset, false);
    }

    /** Writes every range of {@code vectors} at {@code offset} with pwritev(2); see {@link #preadv}. */
    public static void pwritev(Fd fd, IoVectors vectors, long offset) throws LinuxException {
        transfer(fd, vectors, offset, true);
    }

    private static void transfer(Fd fd, IoVectors vectors, long offset, boolean writing) throws LinuxException {
        String call = writing ? "pwritev" : "preadv";
        MemorySegment capture = Libc.scratch().captureState;
        int number = fd.acquire(call);
        try {
            long left = vectors.bytes();
            int first = 0;
            while (left > 0) {
                int count = Math.min(vectors.count() - first, 1024);
                long n = writing
                        ? Syscalls.pwritev(capture, number, vectors.from(first), count, offset)
                        : Syscalls.preadv(capture, number, vectors.from(first), count, offset);
                if (n == -Errno.EINTR) continue;
                Syscalls.check(n, call);
                if (n == 0) {
                    throw new LinuxException(call, "the file ended " + left + " bytes early", Errno.EIO);
                }
                left -= n;
                offset += n;
                first = vectors.advance(first, n);
            }
        } finally {
            fd.release();
        }
    }

    /**
     * pwrite ({@code writing}) or pread of all of {@code data} at {@code offset}, over partial
     * transfers and EINTR; heap memory goes through a bounce buffer of this call. A read stops at
     * the end of the file. Returns the bytes transferred.
     */
    private static long transfer(Fd fd, MemorySegment data, long offset, boolean writing) throws LinuxException {
        String call = writing ? "pwrite" : "pread";
        MemorySegment capture = Libc.scratch().captureState;
        int number = fd.acquire(call);
        try (BounceBuffer bounce = new BounceBuffer(Arena::ofConfined)) {
            long done = 0;
            while (done < data.byteSize()) {
                long wanted = data.byteSize() - done;
                long n = writing
                        ? Syscalls.pwrite(capture, number, bounce.sourceSegment(data, done, wanted), offset + done)
                        : Syscalls.pread(capture, number, bounce.destinationSegment(data, done, wanted), offset + done);
                if (n == -Errno.EINTR) continue;
                Syscalls.check(n, call);
                if (n == 0 && !writing) break; // end of file
                if (!writing) bounce.deliver(data, done, n);
                done += n;
            }
            return done;
        } finally {
            fd.release();
        }
    }

    public static void ftruncate(Fd fd, long size) throws LinuxException {
        MemorySegment capture = Libc.scratch().captureState;
        int number = fd.acquire("ftruncate");
        try {
            int result;
            do {
                result = Syscalls.ftruncate(capture, number, size);
            } while (result == -Errno.EINTR);
            Syscalls.check(result, "ftruncate");
        } finally {
            fd.release();
        }
    }

    /** Opens an existing file (O_CLOEXEC), for reading and writing or read-only. */
    public static Fd open(Path path, boolean writable) throws LinuxException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment cPath = Libc.cPath(call, "open", path);
            MemorySegment capture = Libc.scratch().captureState;
            int flags = (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC;
            int result;
            do {
                result = Syscalls.open(capture, cPath, flags);
            } while (result == -Errno.EINTR);
            return Fd.adopt(Syscalls.check(result, "open", path.toString()));
        }
    }

    /**
     * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): frees the file's blocks in
     * [offset, offset + length), which then read as zeros; the size stays. Partial blocks at the
     * ends are zeroed in place. A file system that cannot punch fails with EOPNOTSUPP.
     */
    public static void punchHole(Fd fd, long offset, long length) throws LinuxException {
        MemorySegment capture = Libc.scratch().captureState;
        int number = fd.acquire("fallocate");
        try {
            int result;
            do {
                result = Syscalls.fallocate(capture, number, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE,
                        offset, length);
            } while (result == -Errno.EINTR);
            Syscalls.check(result, "fallocate", "PUNCH_HOLE");
        } finally {
            fd.release();
        }
    }

    /** fcntl(F_GETFL): the file status flags (access mode, O_NONBLOCK, ...). */
    public static int fcntlGetFlags(Fd fd) throws LinuxException {
        return fcntl(fd, Libc.F_GETFL, 0, "F_GETFL");
    }

    /**
     * fcntl(F_GET_SEALS): the seals of a memfd (F_SEAL_* bits). A file that cannot be sealed (not a
     * memfd, or one created without MFD_ALLOW_SEALING reports F_SEAL_SEAL) fails with EINVAL.
     */
    public static int seals(Fd fd) throws LinuxException {
        return fcntl(fd, F_GET_SEALS, 0, "F_GET_SEALS");
    }

    /** fcntl(F_ADD_SEALS): adds {@code seals} (F_SEAL_* bits) to a memfd; EPERM once F_SEAL_SEAL is set. */
    public static void addSeals(Fd fd, int seals) throws LinuxException {
        fcntl(fd, F_ADD_SEALS, seals, "F_ADD_SEALS");
    }

    /** fcntl(2) with an int argument; failures name {@code commandName}. */
    static int fcntl(Fd fd, int command, int argument, String commandName) throws LinuxException {
        int number = fd.acquire("fcntl");
        try {
            return Syscalls.check(Syscalls.fcntl(Libc.scratch().captureState, number, command, argument), "fcntl",
                    commandName);
        } finally {
            fd.release();
        }
    }

    /**
     * shutdown(SHUT_WR) of a connected socket: the peer reads end of stream after what was already
     * sent, while this end can still receive (a half-close).
     */
    public static void shutdownOutput(Fd socket) throws LinuxException {
        int number = socket.acquire("shutdown");
        try {
            Syscalls.check(Syscalls.shutdown(Libc.scratch().captureState, number, Libc.SHUT_WR), "shutdown", "SHUT_WR");
        } finally {
            socket.release();
        }
    }

    /**
     * mlock(2): keeps {@code memory}'s pages resident (faulting them in now). Counts against
     * RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK (ENOMEM or EPERM past it).
     */
    public static void lockMemory(MemorySegment memory) throws LinuxException {
        Syscalls.check(Syscalls.mlock(Libc.scratch().captureState, true, memory), "mlock");
    }

    /** munlock(2) of {@code memory}. */
    public static void unlockMemory(MemorySegment memory) throws LinuxException {
        Syscalls.check(Syscalls.mlock(Libc.scratch().captureState, false, memory), "munlock");
    }

    /**
     * unsetenv(3): removes {@code name} from the C environment, which processes started later
     * inherit (a ProcessBuilder whose environment() was not touched passes it on as it is).
     * {@link System#getenv()} keeps its copy from start-up.
     */
    public static void unsetenv(String name) throws LinuxException {
        if (name.isEmpty() || name.indexOf('=') >= 0 || name.indexOf(0) >= 0) {
            throw new LinuxException("unsetenv", name, Errno.EINVAL);
        }
        try (Arena call = Arena.ofConfined()) {
            Syscalls.check(Syscalls.unsetenv(Libc.scratch().captureState, call.allocateFrom(name)), "unsetenv", name);
        }
    }

    public static int getpid() {
        return Syscalls.getpid(Libc.scratch().captureState);
    }
}
