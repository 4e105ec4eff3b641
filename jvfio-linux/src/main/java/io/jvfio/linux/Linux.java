package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Plain system calls on file descriptors. */
public final class Linux {
    private Linux() {}

    /** The system page size (sysconf(_SC_PAGESIZE)). */
    public static final long PAGE_SIZE = Libc.pageSize();

    /** Heap segments travel through native memory in pieces of at most this size. */
    private static final long HEAP_COPY_CHUNK = 1 << 20;

    /** st_size of fstat(2). */
    public static long fileSize(Fd fd) throws LinuxException {
        return fstat(fd).get(JAVA_LONG, Libc.ST_SIZE);
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
            if (Libc.fstat(scratch.captureState, number, stat) < 0) {
                throw new LinuxException("fstat", Libc.errno(scratch.captureState));
            }
            return stat;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
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
                pollfd.set(JAVA_INT, Libc.POLLFD_FD, number);
                pollfd.set(JAVA_SHORT, Libc.POLLFD_EVENTS, (short) events);
                pollfd.set(JAVA_SHORT, Libc.POLLFD_REVENTS, (short) 0);
                int ready = (int) Libc.POLL.H.invokeExact(scratch.captureState, pollfd, 1L, remaining);
                if (ready > 0) return pollfd.get(JAVA_SHORT, Libc.POLLFD_REVENTS) & 0xFFFF;
                if (ready == 0) return 0;
                int errno = Libc.errno(scratch.captureState);
                if (errno != Errno.EINTR) throw new LinuxException("poll", errno);
                if (timeoutMillis >= 0) {
                    remaining = (int) Math.max(0, (deadline - System.nanoTime() + 999_999) / 1_000_000);
                }
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
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
                pollfds.set(JAVA_INT, Libc.POLLFD_FD, a);
                pollfds.set(JAVA_SHORT, Libc.POLLFD_EVENTS, (short) 1);
                pollfds.set(JAVA_SHORT, Libc.POLLFD_REVENTS, (short) 0);
                pollfds.set(JAVA_INT, size + Libc.POLLFD_FD, b);
                pollfds.set(JAVA_SHORT, size + Libc.POLLFD_EVENTS, (short) 1);
                pollfds.set(JAVA_SHORT, size + Libc.POLLFD_REVENTS, (short) 0);
                int ready = (int) Libc.POLL.H.invokeExact(scratch.captureState, pollfds, 2L, timeoutMillis);
                if (ready <= 0) {
                    if (ready < 0 && Libc.errno(scratch.captureState) != Errno.EINTR) {
                        throw new LinuxException("poll", Libc.errno(scratch.captureState));
                    }
                    return 0;
                }
                return (pollfds.get(JAVA_SHORT, Libc.POLLFD_REVENTS) != 0 ? 1 : 0)
                        | (pollfds.get(JAVA_SHORT, size + Libc.POLLFD_REVENTS) != 0 ? 2 : 0);
            } finally {
                second.release();
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            first.release();
        }
    }

    /** Reads at {@code offset} until {@code dst} is full or the file ends; returns the bytes read. */
    public static long pread(Fd fd, MemorySegment dst, long offset) throws LinuxException {
        if (dst.isNative()) return preadNative(fd, dst, offset);
        long done = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bounce = arena.allocate(Math.min(dst.byteSize(), HEAP_COPY_CHUNK), 8);
            while (done < dst.byteSize()) {
                long chunk = Math.min(bounce.byteSize(), dst.byteSize() - done);
                long read = preadNative(fd, bounce.asSlice(0, chunk), offset + done);
                MemorySegment.copy(bounce, 0, dst, done, read);
                done += read;
                if (read < chunk) break;
            }
        }
        return done;
    }

    private static long preadNative(Fd fd, MemorySegment dst, long offset) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = fd.acquire("pread");
        try {
            long done = 0;
            while (done < dst.byteSize()) {
                long n = (long) Libc.PREAD.H.invokeExact(scratch.captureState, number, dst.asSlice(done),
                        dst.byteSize() - done, offset + done);
                if (n == 0) break;
                if (n < 0) {
                    int errno = Libc.errno(scratch.captureState);
                    if (errno == Errno.EINTR) continue;
                    throw new LinuxException("pread", errno);
                }
                done += n;
            }
            return done;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** Writes all of {@code src} at {@code offset}; returns its size. */
    public static long pwrite(Fd fd, MemorySegment src, long offset) throws LinuxException {
        if (src.isNative()) return pwriteNative(fd, src, offset);
        long done = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bounce = arena.allocate(Math.min(src.byteSize(), HEAP_COPY_CHUNK), 8);
            while (done < src.byteSize()) {
                long chunk = Math.min(bounce.byteSize(), src.byteSize() - done);
                MemorySegment.copy(src, done, bounce, 0, chunk);
                done += pwriteNative(fd, bounce.asSlice(0, chunk), offset + done);
            }
        }
        return done;
    }

    private static long pwriteNative(Fd fd, MemorySegment src, long offset) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = fd.acquire("pwrite");
        try {
            long done = 0;
            while (done < src.byteSize()) {
                long n = (long) Libc.PWRITE.H.invokeExact(scratch.captureState, number, src.asSlice(done),
                        src.byteSize() - done, offset + done);
                if (n < 0) {
                    int errno = Libc.errno(scratch.captureState);
                    if (errno == Errno.EINTR) continue;
                    throw new LinuxException("pwrite", errno);
                }
                done += n;
            }
            return done;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
    }

    public static void ftruncate(Fd fd, long size) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = fd.acquire("ftruncate");
        try {
            while (true) {
                int result = (int) Libc.FTRUNCATE.H.invokeExact(scratch.captureState, number, size);
                if (result == 0) return;
                int errno = Libc.errno(scratch.captureState);
                if (errno != Errno.EINTR) throw new LinuxException("ftruncate", errno);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** fcntl(F_GETFL): the file status flags (access mode, O_NONBLOCK, ...). */
    public static int fcntlGetFlags(Fd fd) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = fd.acquire("fcntl");
        try {
            int flags = (int) Libc.FCNTL.H.invokeExact(scratch.captureState, number, Libc.F_GETFL, 0);
            if (flags < 0) throw new LinuxException("fcntl", "F_GETFL", Libc.errno(scratch.captureState));
            return flags;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
    }

    // ---- memfd seals (fcntl F_ADD_SEALS / F_GET_SEALS, linux/fcntl.h)

    /** The seal bits of fcntl(F_GET_SEALS) / F_ADD_SEALS. */
    public static final int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;
    private static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;

    /**
     * fcntl(F_GET_SEALS): the seals of a memfd (F_SEAL_* bits). A file that cannot be sealed (not a
     * memfd, or one created without MFD_ALLOW_SEALING reports F_SEAL_SEAL) fails with EINVAL.
     */
    public static int seals(Fd fd) throws LinuxException {
        return fcntlInt(fd, F_GET_SEALS, 0, "F_GET_SEALS");
    }

    /** fcntl(F_ADD_SEALS): adds {@code seals} (F_SEAL_* bits) to a memfd; EPERM once F_SEAL_SEAL is set. */
    public static void addSeals(Fd fd, int seals) throws LinuxException {
        fcntlInt(fd, F_ADD_SEALS, seals, "F_ADD_SEALS");
    }

    private static int fcntlInt(Fd fd, int command, int argument, String what) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = fd.acquire("fcntl");
        try {
            int result = (int) Libc.FCNTL.H.invokeExact(scratch.captureState, number, command, argument);
            if (result < 0) throw new LinuxException("fcntl", what, Libc.errno(scratch.captureState));
            return result;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /**
     * shutdown(SHUT_WR) of a connected socket: the peer reads end of stream after what was already
     * sent, while this end can still receive (a half-close).
     */
    public static void shutdownOutput(Fd socket) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = socket.acquire("shutdown");
        try {
            int result = (int) Libc.SHUTDOWN.H.invokeExact(scratch.captureState, number, 1 /* SHUT_WR */);
            if (result < 0) throw new LinuxException("shutdown", "SHUT_WR", Libc.errno(scratch.captureState));
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            socket.release();
        }
    }

    public static int getpid() {
        try {
            return (int) Libc.GETPID.H.invokeExact(Libc.scratch().captureState);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }
}
