package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

/** A listening AF_UNIX stream socket. */
public final class UnixServerSocket implements AutoCloseable {
    private final Fd fd;
    private final Path path;

    private UnixServerSocket(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    /**
     * Creates the socket file at {@code path}, sets its permission bits to {@code mode} (e.g. 0600)
     * and only then listens: clients cannot connect before the mode is in force. An existing file at
     * {@code path} makes this fail with EADDRINUSE; removing stale sockets is the caller's policy.
     * If a step after bind fails, the file this call created is removed again.
     */
    public static UnixServerSocket bind(Path path, int mode, int backlog) throws LinuxException {
        Fd socket = UnixSocket.newSocket();
        boolean bound = false;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment address = Libc.sockaddrUn(call, "bind", path);
            MemorySegment cPath = Libc.cPath(call, "chmod", path);
            MemorySegment capture = Libc.scratch().captureState;
            int number = socket.value();
            Syscalls.check(Syscalls.bind(capture, number, address), "bind", path.toString());
            bound = true;
            Syscalls.check(Syscalls.chmod(capture, cPath, mode), "chmod", path.toString());
            Syscalls.check(Syscalls.listen(capture, number, backlog), "listen", path.toString());
            return new UnixServerSocket(socket, path);
        } catch (Throwable t) {
            socket.close();
            if (bound) unlinkQuietly(path);
            throw t;
        }
    }

    /**
     * Binds the native calls {@link #bind} makes (socket, bind, chmod, listen) ahead of it: the FFM
     * linker generates code for each on first use, several milliseconds apiece at start-up. A server
     * can call this on another thread while it does other start-up work, so that its bind finds them
     * ready (or waits only for what is left).
     */
    public static void prepareBind() {
        Syscalls.prepareBind();
    }

    /**
     * {@link #bind}, first replacing a stale socket at {@code path}: one left by a dead process
     * (nobody accepts on it) is removed; a live socket, a symbolic link (never followed) or any
     * other file there is refused with a clear message.
     */
    public static UnixServerSocket bindReplacingStale(Path path, int mode, int backlog) throws java.io.IOException {
        java.nio.file.attribute.BasicFileAttributes attrs;
        try {
            attrs = java.nio.file.Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException absent) {
            return bind(path, mode, backlog);
        }
        if (attrs.isSymbolicLink()) {
            throw LinuxException.explained("bind", path + " is a symbolic link; refusing to replace it", Errno.EEXIST);
        }
        if (!attrs.isOther()) {
            throw LinuxException.explained("bind", path + " exists and is not a socket; refusing to replace it", Errno.EEXIST);
        }
        try (UnixSocket probe = UnixSocket.connect(path)) {
            throw LinuxException.explained("bind", path + " is in use by a live server", Errno.EADDRINUSE);
        } catch (LinuxException e) {
            if (e.errno() != Errno.ECONNREFUSED) {
                throw e;
            }
        }
        java.nio.file.Files.delete(path); // nobody listens: a stale socket from a dead process
        return bind(path, mode, backlog);
    }

    private static void unlinkQuietly(Path path) {
        try (Arena call = Arena.ofConfined()) {
            Syscalls.unlink(Libc.scratch().captureState, Libc.cPath(call, "unlink", path));
        } catch (LinuxException | RuntimeException e) {
            // Best effort: the original failure is the one worth reporting.
        }
    }

    /**
     * Wraps a socket that is already listening, e.g. one inherited from a service manager. The fd
     * is checked with SO_ACCEPTCONN: ENOTSOCK if it is no socket, EINVAL if it is not listening; in
     * both cases it stays the caller's. On success this object owns it.
     */
    public static UnixServerSocket adopt(Fd listeningFd) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment accepting = scratch.bytes.asSlice(0, 4);
        MemorySegment length = scratch.bytes.asSlice(8, 4);
        length.set(JAVA_INT, 0, 4);
        int number = listeningFd.acquire("getsockopt");
        int result;
        try {
            result = Syscalls.getsockopt(scratch.captureState, number, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN, accepting,
                    length);
        } finally {
            listeningFd.release();
        }
        if (result == -Errno.ENOTSOCK) {
            throw LinuxException.explained("adopt", listeningFd + " is not a socket", Errno.ENOTSOCK);
        }
        if (result < 0) throw new LinuxException("getsockopt", "SO_ACCEPTCONN " + listeningFd, -result);
        if (accepting.get(JAVA_INT, 0) == 0) {
            throw LinuxException.explained("adopt", listeningFd + " is a socket but not listening", Errno.EINVAL);
        }
        return new UnixServerSocket(listeningFd, null);
    }

    /**
     * Waits for a client and returns the connection (close-on-exec). Interrupted waits resume, as do
     * connections the client aborted before they were accepted. Fails with EBADF or EINVAL once
     * {@link #close()} was called, including for a thread that was blocked here.
     */
    public UnixSocket accept() throws LinuxException {
        MemorySegment capture = Libc.scratch().captureState;
        int number = fd.acquire("accept4");
        try {
            while (true) {
                int connection = Syscalls.accept4(capture, number, Libc.SOCK_CLOEXEC);
                if (connection != -Errno.EINTR && connection != -Errno.ECONNABORTED) {
                    return UnixSocket.adopt(Fd.adopt(Syscalls.check(connection, "accept4")));
                }
                if (!fd.isOpen()) throw new LinuxException("accept4", Errno.EBADF);
            }
        } finally {
            fd.release();
        }
    }

    /** The path it was bound to; empty for an adopted socket. */
    public Optional<Path> path() {
        return Optional.ofNullable(path);
    }

    public Fd fd() {
        return fd;
    }

    /**
     * Shuts the socket down first, which makes a thread blocked in {@link #accept()} return, then
     * closes it. The shutdown acts on the socket itself, so duplicates of its fd stop accepting too.
     * Does not remove the socket file. Idempotent.
     */
    @Override
    public void close() {
        if (!fd.isOpen()) return;
        UnixSocket.shutdown(fd);
        fd.close();
    }

    /**
     * Closes this process's descriptor only: the socket goes on listening for the holders of its
     * other descriptors (a successor it was sent to). A thread blocked in {@link #accept()} is not woken.
     */
    public void release() {
        fd.close();
    }

    @Override
    public String toString() {
        return "UnixServerSocket[" + fd + (path == null ? "" : ", " + path) + "]";
    }
}
