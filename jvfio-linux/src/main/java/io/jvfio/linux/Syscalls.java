package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The one way this module calls libc: every function it uses, as a typed method that returns the
 * function's result, or minus the errno when it failed (the kernel's own convention). The errno is
 * read from {@code capture} (the capture-state segment of the calling thread or object) right after
 * the call, before anything else can run native code on the thread and clobber it; so a caller may
 * release its {@link Fd} before looking at the result. The methods throw nothing checked: a downcall
 * handle throws only for a mistake in its use, surfaced unchecked. {@link #check} turns a failed
 * result into a {@link LinuxException}.
 *
 * <p>Each handle sits in a holder class of its own, bound on first use: binding one spins classes
 * at run time (the AOT cache does not keep them), and a server starting up needs only a few.
 */
final class Syscalls {
    private Syscalls() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    // ---------------------------------------------------------------- checks

    /** {@code result}, or a LinuxException for {@code call} when it is minus an errno. */
    static int check(int result, String call) throws LinuxException {
        if (result < 0) throw new LinuxException(call, -result);
        return result;
    }

    /** {@code result}, or a LinuxException for {@code call} about {@code detail} when it is minus an errno. */
    static int check(int result, String call, String detail) throws LinuxException {
        if (result < 0) throw new LinuxException(call, detail, -result);
        return result;
    }

    /** {@code result}, or a LinuxException for {@code call} when it is minus an errno. */
    static long check(long result, String call) throws LinuxException {
        if (result < 0) throw new LinuxException(call, (int) -result);
        return result;
    }

    /** {@code result}, or a LinuxException for {@code call} about {@code detail} when it is minus an errno. */
    static long check(long result, String call, String detail) throws LinuxException {
        if (result < 0) throw new LinuxException(call, detail, (int) -result);
        return result;
    }

    /** Result of a call that returns -1 and sets errno on failure, as the methods here return it. */
    private static int result(int result, MemorySegment capture) {
        return result >= 0 ? result : -Libc.errno(capture);
    }

    private static long result(long result, MemorySegment capture) {
        return result >= 0 ? result : -Libc.errno(capture);
    }

    /** Downcall handles only throw for programming errors in their use; surface those unchecked. */
    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("unexpected exception from a native call", t);
    }

    // Restricted: binding native code is what this module is for; callers enable native access for it.
    @SuppressWarnings("restricted")
    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    private static MethodHandle bind(String name, MemoryLayout result, MemoryLayout... arguments) {
        return bind(name, FunctionDescriptor.of(result, arguments));
    }

    // ---------------------------------------------------------------- descriptors, files, memory

    static int close(MemorySegment capture, int fd) {
        try {
            return result((int) Close.H.invokeExact(capture, fd), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** fcntl(2) with an int argument, which commands without one ignore. */
    static int fcntl(MemorySegment capture, int fd, int command, int argument) {
        try {
            return result((int) Fcntl.H.invokeExact(capture, fd, command, argument), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** fstat(2) into {@code stat}, a struct stat (Libc.STAT). */
    static int fstat(MemorySegment capture, int fd, MemorySegment stat) {
        try {
            return result(Fstat.IS_FXSTAT
                    ? (int) Fstat.H.invokeExact(capture, 1, fd, stat)
                    : (int) Fstat.H.invokeExact(capture, fd, stat), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int ftruncate(MemorySegment capture, int fd, long size) {
        try {
            return result((int) Ftruncate.H.invokeExact(capture, fd, size), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** open(2) of a NUL-terminated {@code path} without O_CREAT (so no mode argument). */
    static int open(MemorySegment capture, MemorySegment path, int flags) {
        try {
            return result((int) Open.H.invokeExact(capture, path, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** fallocate(2): {@code mode} (FALLOC_FL_*) over {@code length} bytes at {@code offset}. */
    static int fallocate(MemorySegment capture, int fd, int mode, long offset, long length) {
        try {
            return result((int) Fallocate.H.invokeExact(capture, fd, mode, offset, length), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static long read(MemorySegment capture, int fd, MemorySegment buffer, long count) {
        try {
            return result((long) Read.H.invokeExact(capture, fd, buffer, count), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static long write(MemorySegment capture, int fd, MemorySegment buffer, long count) {
        try {
            return result((long) Write.H.invokeExact(capture, fd, buffer, count), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** pread(2) of {@code buffer}'s size at {@code offset}. */
    static long pread(MemorySegment capture, int fd, MemorySegment buffer, long offset) {
        try {
            return result((long) Pread.H.invokeExact(capture, fd, buffer, buffer.byteSize(), offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** preadv(2) of {@code count} iovecs at {@code iov}. */
    static long preadv(MemorySegment capture, int fd, MemorySegment iov, int count, long offset) {
        try {
            return result((long) Preadv.H.invokeExact(capture, fd, iov, count, offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** pwritev(2) of {@code count} iovecs at {@code iov}. */
    static long pwritev(MemorySegment capture, int fd, MemorySegment iov, int count, long offset) {
        try {
            return result((long) Pwritev.H.invokeExact(capture, fd, iov, count, offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** pwrite(2) of {@code buffer}'s size at {@code offset}. */
    static long pwrite(MemorySegment capture, int fd, MemorySegment buffer, long offset) {
        try {
            return result((long) Pwrite.H.invokeExact(capture, fd, buffer, buffer.byteSize(), offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int memfdCreate(MemorySegment capture, MemorySegment name, int flags) {
        try {
            return result((int) MemfdCreate.H.invokeExact(capture, name, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** mmap(2) with no address hint: the mapping's address, or minus the errno (an address is never negative). */
    static long mmap(MemorySegment capture, long length, int protection, int flags, int fd, long offset) {
        try {
            MemorySegment base = (MemorySegment) Mmap.H.invokeExact(capture, MemorySegment.NULL, length, protection,
                    flags, fd, offset);
            return base.address() == -1L ? -Libc.errno(capture) : base.address(); // -1: MAP_FAILED
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int munmap(MemorySegment capture, MemorySegment start, long length) {
        try {
            return result((int) Munmap.H.invokeExact(capture, start, length), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** ioctl(2) whose argument is a pointer to {@code argument} (native memory). */
    static int ioctl(MemorySegment capture, int fd, long request, MemorySegment argument) {
        try {
            return result((int) IoctlPointer.H.invokeExact(capture, fd, request, argument), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** ioctl(2) whose argument is a plain value (an int or an unsigned long, passed in a 64-bit register). */
    static int ioctl(MemorySegment capture, int fd, long request, long argument) {
        try {
            return result((int) IoctlValue.H.invokeExact(capture, fd, request, argument), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** mlock(2) ({@code lock}) or munlock(2) of {@code memory}. */
    static int mlock(MemorySegment capture, boolean lock, MemorySegment memory) {
        try {
            return result(lock
                    ? (int) Mlock.H.invokeExact(capture, memory, memory.byteSize())
                    : (int) Munlock.H.invokeExact(capture, memory, memory.byteSize()), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int chmod(MemorySegment capture, MemorySegment path, int mode) {
        try {
            return result((int) Chmod.H.invokeExact(capture, path, mode), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int unlink(MemorySegment capture, MemorySegment path) {
        try {
            return result((int) Unlink.H.invokeExact(capture, path), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---------------------------------------------------------------- sockets

    static int socket(MemorySegment capture, int domain, int type, int protocol) {
        try {
            return result((int) Socket.H.invokeExact(capture, domain, type, protocol), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** socketpair(2): the two fds go to {@code fds}, two ints. */
    static int socketpair(MemorySegment capture, int domain, int type, int protocol, MemorySegment fds) {
        try {
            return result((int) Socketpair.H.invokeExact(capture, domain, type, protocol, fds), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** connect(2) to {@code address}, a sockaddr of exactly its size. */
    static int connect(MemorySegment capture, int fd, MemorySegment address) {
        try {
            return result((int) Connect.H.invokeExact(capture, fd, address, (int) address.byteSize()), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** bind(2) to {@code address}, a sockaddr of exactly its size. */
    static int bind(MemorySegment capture, int fd, MemorySegment address) {
        try {
            return result((int) Bind.H.invokeExact(capture, fd, address, (int) address.byteSize()), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int listen(MemorySegment capture, int fd, int backlog) {
        try {
            return result((int) Listen.H.invokeExact(capture, fd, backlog), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** accept4(2), not asking for the peer's address. */
    static int accept4(MemorySegment capture, int fd, int flags) {
        try {
            return result((int) Accept4.H.invokeExact(capture, fd, MemorySegment.NULL, MemorySegment.NULL, flags),
                    capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static long sendmsg(MemorySegment capture, int fd, MemorySegment message, int flags) {
        try {
            return result((long) Sendmsg.H.invokeExact(capture, fd, message, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static long recvmsg(MemorySegment capture, int fd, MemorySegment message, int flags) {
        try {
            return result((long) Recvmsg.H.invokeExact(capture, fd, message, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int shutdown(MemorySegment capture, int fd, int how) {
        try {
            return result((int) Shutdown.H.invokeExact(capture, fd, how), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** getsockopt(2) into {@code value}; {@code length} holds its size in, the size written out. */
    static int getsockopt(MemorySegment capture, int fd, int level, int option, MemorySegment value,
            MemorySegment length) {
        try {
            return result((int) Getsockopt.H.invokeExact(capture, fd, level, option, value, length), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** setsockopt(2) of {@code value}, all of it. */
    static int setsockopt(MemorySegment capture, int fd, int level, int option, MemorySegment value) {
        try {
            return result((int) Setsockopt.H.invokeExact(capture, fd, level, option, value, (int) value.byteSize()),
                    capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---------------------------------------------------------------- waiting and events

    /** poll(2) on {@code count} struct pollfd at the start of {@code fds}. */
    static int poll(MemorySegment capture, MemorySegment fds, long count, int timeoutMillis) {
        try {
            return result((int) Poll.H.invokeExact(capture, fds, count, timeoutMillis), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int eventfd(MemorySegment capture, int initialValue, int flags) {
        try {
            return result((int) Eventfd.H.invokeExact(capture, initialValue, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int epollCreate1(MemorySegment capture, int flags) {
        try {
            return result((int) EpollCreate1.H.invokeExact(capture, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int epollCtl(MemorySegment capture, int epollFd, int operation, int fd, MemorySegment event) {
        try {
            return result((int) EpollCtl.H.invokeExact(capture, epollFd, operation, fd, event), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int epollWait(MemorySegment capture, int epollFd, MemorySegment events, int capacity, int timeoutMillis) {
        try {
            return result((int) EpollWait.H.invokeExact(capture, epollFd, events, capacity, timeoutMillis), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---------------------------------------------------------------- processes and the system

    /** sched_setaffinity(2) ({@code set} true) or sched_getaffinity(2) of all of {@code cpuSet}. */
    static int schedAffinity(MemorySegment capture, boolean set, int tid, MemorySegment cpuSet) {
        try {
            return result(set
                    ? (int) SchedSetaffinity.H.invokeExact(capture, tid, cpuSet.byteSize(), cpuSet)
                    : (int) SchedGetaffinity.H.invokeExact(capture, tid, cpuSet.byteSize(), cpuSet), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static long sysconf(MemorySegment capture, int name) {
        try {
            return result((long) Sysconf.H.invokeExact(capture, name), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** getpeername(2) without the address: 0 when {@code fd} has a peer, -ENOTCONN when it has none. */
    static int getpeername(MemorySegment capture, int fd, MemorySegment address, MemorySegment length) {
        try {
            return result((int) Getpeername.H.invokeExact(capture, fd, address, length), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** unsetenv(3) of the C environment, which processes started later inherit. */
    static int unsetenv(MemorySegment capture, MemorySegment name) {
        try {
            return result((int) Unsetenv.H.invokeExact(capture, name), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * getpwnam_r(3) ({@code group} false) or getgrnam_r(3) ({@code group} true): the entry of
     * {@code name} through the system's name service (NSS), its strings in {@code buffer}. 0 with
     * {@code *found} set to {@code entry} when there is one, 0 with it NULL when there is none, or
     * minus the error (ERANGE: {@code buffer} is too small).
     */
    static int getNamedEntry(MemorySegment capture, boolean group, MemorySegment name, MemorySegment entry,
            MemorySegment buffer, MemorySegment found) {
        try {
            // These return the error number rather than setting errno.
            int error = group
                    ? (int) Getgrnam.H.invokeExact(capture, name, entry, buffer, buffer.byteSize(), found)
                    : (int) Getpwnam.H.invokeExact(capture, name, entry, buffer, buffer.byteSize(), found);
            return -error;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static int getpid(MemorySegment capture) {
        try {
            return (int) Getpid.H.invokeExact(capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Binds the handles a listening server socket needs (socket, bind, chmod, listen) now. */
    static void prepareBind() {
        java.util.Objects.requireNonNull(Socket.H);
        java.util.Objects.requireNonNull(Bind.H);
        java.util.Objects.requireNonNull(Chmod.H);
        java.util.Objects.requireNonNull(Listen.H);
    }

    // ---------------------------------------------------------------- the handles, each bound on first use

    private static final class Close { static final MethodHandle H = bind("close", JAVA_INT, JAVA_INT); }
    /** fcntl(int, int, ...) with one int variadic argument; commands without one ignore it. */
    private static final class Fcntl {
        static final MethodHandle H = bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
                Linker.Option.firstVariadicArg(2));
    }
    /**
     * fstat became a real libc symbol only in glibc 2.33; before that it was an inline wrapper around
     * {@code __fxstat(version 1, fd, buf)}. Bind whichever exists (on first use, like the others).
     */
    private static final class Fstat {
        static final boolean IS_FXSTAT = LIBC.find("fstat").isEmpty();
        static final MethodHandle H = IS_FXSTAT
                ? bind("__fxstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS))
                : bind("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Ftruncate { static final MethodHandle H = bind("ftruncate", JAVA_INT, JAVA_INT, JAVA_LONG); }
    /** open(const char *, int, ...): the variadic mode is never passed (no O_CREAT). */
    private static final class Open {
        static final MethodHandle H = bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
                Linker.Option.firstVariadicArg(2));
    }
    private static final class Fallocate { static final MethodHandle H = bind("fallocate", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG); }
    private static final class Read { static final MethodHandle H = bind("read", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG); }
    private static final class Write { static final MethodHandle H = bind("write", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG); }
    private static final class Pread { static final MethodHandle H = bind("pread", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG); }
    private static final class Pwrite { static final MethodHandle H = bind("pwrite", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG); }
    private static final class Preadv { static final MethodHandle H = bind("preadv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG); }
    private static final class Pwritev { static final MethodHandle H = bind("pwritev", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG); }
    private static final class MemfdCreate { static final MethodHandle H = bind("memfd_create", JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Mmap { static final MethodHandle H = bind("mmap", ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG); }
    private static final class Munmap { static final MethodHandle H = bind("munmap", JAVA_INT, ADDRESS, JAVA_LONG); }
    /** ioctl(int, unsigned long, ...): the variadic argument a pointer, or a value. */
    private static final class IoctlPointer {
        static final MethodHandle H = bind("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
                Linker.Option.firstVariadicArg(2));
    }
    private static final class IoctlValue {
        static final MethodHandle H = bind("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(2));
    }
    private static final class Mlock { static final MethodHandle H = bind("mlock", JAVA_INT, ADDRESS, JAVA_LONG); }
    private static final class Munlock { static final MethodHandle H = bind("munlock", JAVA_INT, ADDRESS, JAVA_LONG); }
    private static final class Chmod { static final MethodHandle H = bind("chmod", JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Unlink { static final MethodHandle H = bind("unlink", JAVA_INT, ADDRESS); }
    private static final class Socket { static final MethodHandle H = bind("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT); }
    private static final class Socketpair { static final MethodHandle H = bind("socketpair", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS); }
    private static final class Connect { static final MethodHandle H = bind("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Bind { static final MethodHandle H = bind("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Listen { static final MethodHandle H = bind("listen", JAVA_INT, JAVA_INT, JAVA_INT); }
    private static final class Accept4 { static final MethodHandle H = bind("accept4", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT); }
    private static final class Sendmsg { static final MethodHandle H = bind("sendmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Recvmsg { static final MethodHandle H = bind("recvmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Shutdown { static final MethodHandle H = bind("shutdown", JAVA_INT, JAVA_INT, JAVA_INT); }
    private static final class Getsockopt { static final MethodHandle H = bind("getsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS); }
    private static final class Setsockopt { static final MethodHandle H = bind("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT); }
    private static final class Poll { static final MethodHandle H = bind("poll", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT); }
    private static final class Eventfd { static final MethodHandle H = bind("eventfd", JAVA_INT, JAVA_INT, JAVA_INT); }
    private static final class EpollCreate1 { static final MethodHandle H = bind("epoll_create1", JAVA_INT, JAVA_INT); }
    private static final class EpollCtl { static final MethodHandle H = bind("epoll_ctl", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS); }
    private static final class EpollWait { static final MethodHandle H = bind("epoll_wait", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT); }
    private static final class SchedSetaffinity { static final MethodHandle H = bind("sched_setaffinity", JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS); }
    private static final class SchedGetaffinity { static final MethodHandle H = bind("sched_getaffinity", JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS); }
    private static final class Sysconf { static final MethodHandle H = bind("sysconf", JAVA_LONG, JAVA_INT); }
    private static final class Getpwnam { static final MethodHandle H = bind("getpwnam_r", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS); }
    private static final class Getgrnam { static final MethodHandle H = bind("getgrnam_r", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS); }
    private static final class Getpeername { static final MethodHandle H = bind("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS); }
    private static final class Unsetenv { static final MethodHandle H = bind("unsetenv", JAVA_INT, ADDRESS); }
    private static final class Getpid { static final MethodHandle H = bind("getpid", JAVA_INT); }
}
