package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.jvfio.linux.MessageReceiver.Wait;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A connected AF_UNIX stream socket that can carry file descriptors (SCM_RIGHTS).
 *
 * <p>Sends are serialized by a lock, so each {@code send} puts one whole message on the stream even
 * when several threads send. Receives take a second lock; they are meant for one reader at a time.
 * Each direction owns its native msghdr, iovec, control buffer and errno capture segment, allocated
 * once, so a transfer without fds allocates nothing when its data is native memory (heap data is
 * copied through a reusable native buffer).
 */
public final class UnixSocket implements AutoCloseable {
    public static final int DEFAULT_MAX_RECEIVE_FDS = 16;

    /** At most this many segments go out in one {@code send} or come in from one recvmsg. */
    private static final int IOVECS = 2;
    /** Room for the largest SCM_RIGHTS message the kernel accepts, so no resizing is ever needed. */
    private static final long CONTROL_CAPACITY = Libc.cmsgSpace(Libc.SCM_MAX_FD * 4L);

    private final Fd fd;
    private final Arena arena = Arena.ofShared();
    private final AtomicBoolean closeRequested = new AtomicBoolean();
    /** Set under both locks, so a holder of either sees a stable value. */
    private volatile boolean closed;

    private final Direction sending = new Direction(arena);
    private final Direction receiving = new Direction(arena);
    private volatile int maxReceiveFds = DEFAULT_MAX_RECEIVE_FDS;

    /** What each direction owns: its lock, and native memory for its calls, allocated once. */
    private static final class Direction {
        final ReentrantLock lock = new ReentrantLock();
        final MemorySegment capture;
        final MemorySegment header;
        final MemorySegment iov;
        final MemorySegment control;
        final BounceBuffer bounce = new BounceBuffer(Arena::ofShared);

        Direction(Arena arena) {
            capture = Libc.allocateCaptureState(arena);
            header = arena.allocate(Libc.MSGHDR);
            iov = arena.allocate(Libc.IOVEC.byteSize() * IOVECS, 8);
            control = arena.allocate(CONTROL_CAPACITY, 8);
        }
    }

    private UnixSocket(Fd fd) {
        this.fd = fd;
    }

    /** Connects to the socket at {@code path}; failures name the path. */
    public static UnixSocket connect(Path path) throws LinuxException {
        Fd socket = newSocket();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment address = Libc.sockaddrUn(call, "connect", path);
            MemorySegment capture = Libc.scratch().captureState;
            int number = socket.value();
            boolean interrupted = false;
            while (true) {
                int result = Syscalls.connect(capture, number, address);
                if (result == -Errno.EINTR || (interrupted && result == -Errno.EALREADY)) {
                    interrupted = true;
                    continue;
                }
                // After EINTR the connection proceeds on its own; a retry then reports it as done.
                if (!(interrupted && result == -Errno.EISCONN)) Syscalls.check(result, "connect", path.toString());
                return new UnixSocket(socket);
            }
        } catch (Throwable t) {
            socket.close();
            throw t;
        }
    }

    /** Two connected sockets (socketpair), both close-on-exec. */
    public static UnixSocket[] pair() throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment numbers = scratch.bytes.asSlice(0, 8);
        Syscalls.check(Syscalls.socketpair(scratch.captureState, Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0,
                numbers), "socketpair");
        Fd first = Fd.adopt(numbers.get(JAVA_INT, 0));
        Fd second = Fd.adopt(numbers.get(JAVA_INT, 4));
        return new UnixSocket[] {new UnixSocket(first), new UnixSocket(second)};
    }

    /** Wraps a connected stream socket; this object owns {@code fd} from now on. */
    public static UnixSocket adopt(Fd fd) {
        return new UnixSocket(fd);
    }

    static Fd newSocket() throws LinuxException {
        return Fd.adopt(Syscalls.check(Syscalls.socket(Libc.scratch().captureState, Libc.AF_UNIX,
                Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket"));
    }

    /** Sizes the control buffer of later receives for {@code max} fds per message (1..253, the kernel's limit). */
    public void setMaxReceiveFds(int max) {
        if (max < 1 || max > Libc.SCM_MAX_FD) {
            throw new IllegalArgumentException("max receive fds must be 1.." + Libc.SCM_MAX_FD + ": " + max);
        }
        maxReceiveFds = max;
    }

    // ---------------------------------------------------------------- sending

    /** Sends all of {@code data}. */
    public void send(MemorySegment data) throws LinuxException {
        send(data, List.of());
    }

    /**
     * Sends all of {@code data} as one message, with {@code fds} attached (SCM_RIGHTS) to its first
     * byte. Loops over partial writes and EINTR; MSG_NOSIGNAL turns a closed peer into EPIPE rather
     * than a signal. {@code data} may be heap or native memory. The fds stay owned by the caller.
     */
    public void send(MemorySegment data, List<Fd> fds) throws LinuxException {
        sendSegments(data, MemorySegment.NULL, fds);
    }

    /** Sends {@code first} then {@code second} as one message (gather), e.g. a header and its payload. */
    public void send(MemorySegment first, MemorySegment second, List<Fd> fds) throws LinuxException {
        sendSegments(first, second, fds);
    }

    /** {@code second} may be the empty {@link MemorySegment#NULL}; no arrays or slices, so nothing is allocated. */
    private void sendSegments(MemorySegment first, MemorySegment second, List<Fd> fds) throws LinuxException {
        checkAlive(first);
        checkAlive(second);
        long total = first.byteSize() + second.byteSize();
        if (fds.size() > Libc.SCM_MAX_FD) {
            throw new IllegalArgumentException("at most " + Libc.SCM_MAX_FD + " fds per message: " + fds.size());
        }
        if (total == 0) {
            if (!fds.isEmpty()) throw new IllegalArgumentException("fds need at least one byte of data to ride on");
            return;
        }
        sending.lock.lock();
        try {
            if (closed) throw LinuxException.explained("sendmsg", "socket closed", Errno.EBADF);
            int number = fd.acquire("sendmsg");
            try {
                long controlLength = fds.isEmpty() ? 0 : fillRights(fds);
                long sent = 0;
                while (sent < total) {
                    long n = Syscalls.sendmsg(sending.capture, number, fillSendHeader(first, second, sent, controlLength),
                            Libc.MSG_NOSIGNAL);
                    if (n == -Errno.EINTR) continue;
                    if (n == -Errno.EAGAIN) { // a non-blocking fd handed to adopt(): wait, then go on
                        Linux.poll(fd, Libc.POLLOUT, -1);
                        continue;
                    }
                    sent += Syscalls.check(n, "sendmsg");
                    controlLength = 0; // the fds went with the first bytes
                }
            } finally {
                fd.release();
            }
        } finally {
            sending.lock.unlock();
        }
    }

    /** What a {@link #trySend} does while the socket has no room: reads the other direction. */
    public interface WhileFull {
        /** Whether input can be taken now (else the send waits for room only). */
        boolean canAbsorb();

        /** Takes what input there is, without waiting; false when it can take no more (end of stream). */
        boolean absorb() throws java.io.IOException;
    }

    /**
     * Sends {@code first} then {@code second} (may be {@link MemorySegment#NULL}) as one message,
     * without fds, if that can start at once: false, with nothing sent, when another thread holds
     * the send lock or the socket has no room. Once part is sent the rest follows; while the socket
     * stays full, {@code whileFull} is given the input that arrives, so a peer blocked sending to
     * us (and so not reading what we send) gets unblocked and we never deadlock against it.
     */
    public boolean trySend(MemorySegment first, MemorySegment second, WhileFull whileFull) throws java.io.IOException {
        checkAlive(first);
        checkAlive(second);
        long total = first.byteSize() + second.byteSize();
        if (total == 0) {
            return true;
        }
        if (!sending.lock.tryLock()) {
            return false;
        }
        try {
            if (closed) throw LinuxException.explained("sendmsg", "socket closed", Errno.EBADF);
            boolean absorbing = true;
            int number = fd.acquire("sendmsg");
            try {
                long sent = 0;
                while (sent < total) {
                    long n = Syscalls.sendmsg(sending.capture, number, fillSendHeader(first, second, sent, 0),
                            Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                    if (n == -Errno.EINTR) continue;
                    if (n != -Errno.EAGAIN) {
                        sent += Syscalls.check(n, "sendmsg");
                        continue;
                    }
                    if (sent == 0) return false;
                    // Part of the message is out: finish it, reading meanwhile.
                    absorbing &= whileFull.canAbsorb();
                    int ready = Linux.poll(fd, Libc.POLLOUT | (absorbing ? Libc.POLLIN : 0), -1);
                    if (absorbing && (ready & Libc.POLLIN) != 0) {
                        absorbing = whileFull.absorb();
                    }
                }
                return true;
            } finally {
                fd.release();
            }
        } finally {
            sending.lock.unlock();
        }
    }

    /** Writes one SCM_RIGHTS control message for {@code fds}; returns its length for msg_controllen. */
    private long fillRights(List<Fd> fds) {
        long payload = fds.size() * 4L;
        sending.control.fill((byte) 0);
        sending.control.set(JAVA_LONG, Libc.CMSG_LEN_FIELD, Libc.cmsgLen(payload));
        sending.control.set(JAVA_INT, Libc.CMSG_LEVEL, Libc.SOL_SOCKET);
        sending.control.set(JAVA_INT, Libc.CMSG_TYPE, Libc.SCM_RIGHTS);
        for (int i = 0; i < fds.size(); i++) {
            sending.control.set(JAVA_INT, Libc.CMSG_HEADER_SIZE + 4L * i, fds.get(i).value());
        }
        return Libc.cmsgSpace(payload);
    }

    /**
     * The send msghdr for what remains after {@code sent} bytes, with {@code controlLength} bytes of
     * control message (0: none).
     */
    private MemorySegment fillSendHeader(MemorySegment first, MemorySegment second, long sent, long controlLength) {
        int iovCount = fillSendIov(first, second, sent);
        sending.header.fill((byte) 0);
        sending.header.set(ADDRESS, Libc.MSG_IOV, sending.iov);
        sending.header.set(JAVA_LONG, Libc.MSG_IOVLEN, iovCount);
        if (controlLength > 0) {
            sending.header.set(ADDRESS, Libc.MSG_CONTROL, sending.control);
            sending.header.set(JAVA_LONG, Libc.MSG_CONTROLLEN, controlLength);
        }
        return sending.header;
    }

    /**
     * Points the send iovec at what remains after {@code sent} bytes. Native memory is referenced
     * in place; heap memory is copied into the bounce buffer, as much as fits. Returns the entry count.
     */
    private int fillSendIov(MemorySegment first, MemorySegment second, long sent) {
        long firstRest = Math.max(0, first.byteSize() - sent);
        long firstSkip = first.byteSize() - firstRest;
        long secondSkip = sent - firstSkip;
        long secondRest = second.byteSize() - secondSkip;
        int count = 0;
        long bounceUsed = 0;
        if (firstRest > 0) {
            long length = addSendEntry(count++, first, firstSkip, firstRest, bounceUsed);
            if (!first.isNative()) bounceUsed += length;
            // Later bytes cannot be queued ahead of the part of this segment that did not fit.
            if (length < firstRest) return count;
        }
        if (secondRest > 0) addSendEntry(count++, second, secondSkip, secondRest, bounceUsed);
        return count;
    }

    /** Fills iovec {@code index} with up to {@code length} bytes of {@code segment} from {@code offset}; returns how many. */
    private long addSendEntry(int index, MemorySegment segment, long offset, long length, long bounceUsed) {
        long entry = index * Libc.IOVEC.byteSize();
        // a pointer is 8 bytes on x86-64
        sending.iov.set(JAVA_LONG, entry + Libc.IOVEC_BASE, sending.bounce.source(segment, offset, length, bounceUsed));
        sending.iov.set(JAVA_LONG, entry + Libc.IOVEC_LEN, sending.bounce.length());
        return sending.bounce.length();
    }

    // ---------------------------------------------------------------- receiving

    /**
     * Receives until {@code dst} is full, appending every fd that arrives to {@code fdsOut} (owned
     * by the caller, close-on-exec). Returns false if the peer closed the connection before the
     * first byte; throws EOFException if it closed part way. If the kernel had to drop fds (more than
     * {@link #setMaxReceiveFds} in one message) the ones that did arrive are closed and a
     * LinuxException with errno EMSGSIZE is thrown. On any exception, the fds this call added to
     * {@code fdsOut} are closed and removed again: the stream is then out of step and should be closed.
     */
    public boolean receiveFully(MemorySegment dst, List<Fd> fdsOut) throws IOException {
        checkWritable(dst);
        receiving.lock.lock();
        int firstNew = fdsOut.size();
        try {
            long received = 0;
            while (received < dst.byteSize()) {
                long n = receiveOnce(dst, received, dst.byteSize() - received, fdsOut, Wait.BLOCK);
                if (n == 0) {
                    if (received == 0) return false;
                    throw new EOFException("connection closed after " + received + " of " + dst.byteSize() + " bytes");
                }
                received += n;
            }
            return true;
        } catch (IOException | RuntimeException e) {
            closeAndRemoveFrom(fdsOut, firstNew);
            throw e;
        } finally {
            receiving.lock.unlock();
        }
    }

    /**
     * One recvmsg of up to {@code dst.byteSize()} bytes (fewer for heap memory larger than the bounce
     * buffer); returns the count, 0 at end of stream, -1 when {@code wait} gave up before data came.
     * {@link Wait#BLOCK} waits for data; {@link Wait#DONT_WAIT} not at all (MSG_DONTWAIT: a caller
     * that expects an answer soon skips a poll when it is already there); {@link Wait#TIMED} at most
     * the receive timeout ({@link #setReceiveTimeout}); {@link Wait#BUFFERED} makes no system call
     * (a socket buffers nothing) and returns -1. Arriving fds are appended to {@code fdsOut}.
     */
    public int receiveSome(MemorySegment dst, List<Fd> fdsOut, Wait wait) throws IOException {
        checkWritable(dst);
        if (dst.byteSize() == 0) return 0;
        receiving.lock.lock();
        try {
            return (int) receiveOnce(dst, 0, Math.min(dst.byteSize(), Integer.MAX_VALUE), fdsOut, wait);
        } finally {
            receiving.lock.unlock();
        }
    }

    /**
     * {@link #receiveSome} of up to {@code wanted} bytes into {@code dst} at {@code offset}, native
     * memory only, nothing sliced or allocated; on a non-blocking fd {@link Wait#TIMED} does not wait.
     */
    long receiveInto(MemorySegment dst, long offset, long wanted, List<Fd> fdsOut, Wait wait) throws IOException {
        checkAlive(dst);
        if (!dst.isNative() || offset < 0 || wanted <= 0 || offset + wanted > dst.byteSize()) {
            throw new IllegalArgumentException("receive into [" + offset + ", +" + wanted + ") of " + dst);
        }
        receiving.lock.lock();
        try {
            return receiveOnce(dst, offset, wanted, fdsOut, wait);
        } finally {
            receiving.lock.unlock();
        }
    }

    /**
     * {@link #receiveInto} with two destinations, filled in order: up to {@code firstLength} bytes
     * into {@code first} at {@code firstOffset}, then up to {@code secondLength} into {@code second}
     * at {@code secondOffset} (both native; {@code firstLength} may be 0). Lets a reader put a
     * message's header in its buffer and the payload where it is wanted, in one recvmsg.
     */
    long receiveInto(MemorySegment first, long firstOffset, long firstLength, MemorySegment second, long secondOffset,
            long secondLength, List<Fd> fdsOut, Wait wait) throws IOException {
        checkAlive(first);
        checkAlive(second);
        if (!first.isNative() || !second.isNative() || second.isReadOnly() || firstOffset < 0 || firstLength < 0
                || firstOffset + firstLength > first.byteSize() || secondOffset < 0 || secondLength <= 0
                || secondOffset + secondLength > second.byteSize()) {
            throw new IllegalArgumentException("receive into [" + firstOffset + ", +" + firstLength + ") of " + first
                    + " and [" + secondOffset + ", +" + secondLength + ") of " + second);
        }
        receiving.lock.lock();
        try {
            long iovec = Libc.IOVEC.byteSize();
            receiving.iov.set(JAVA_LONG, iovec + Libc.IOVEC_BASE, second.address() + secondOffset);
            receiving.iov.set(JAVA_LONG, iovec + Libc.IOVEC_LEN, secondLength);
            return receiveOnce(first, firstOffset, firstLength, fdsOut, wait, 2);
        } finally {
            receiving.lock.unlock();
        }
    }

    /**
     * SO_RCVTIMEO: a receive that waits returns after {@code timeout} without data. Receives that
     * block ({@link #receiveFully}, {@link Wait#BLOCK}) then go on waiting (poll); it bounds only the
     * {@link Wait#TIMED} ones.
     */
    public void setReceiveTimeout(java.time.Duration timeout) throws LinuxException {
        long micros = Math.max(1, timeout.toNanos() / 1000);
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment timeval = scratch.bytes.asSlice(0, 16);
        timeval.set(JAVA_LONG, 0, micros / 1_000_000);
        timeval.set(JAVA_LONG, 8, micros % 1_000_000);
        int number = fd.acquire("setsockopt");
        try {
            Syscalls.check(Syscalls.setsockopt(scratch.captureState, number, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, timeval),
                    "setsockopt", "SO_RCVTIMEO");
        } finally {
            fd.release();
        }
    }

    private static void checkWritable(MemorySegment dst) {
        if (dst.isReadOnly()) throw new IllegalArgumentException("cannot receive into a read-only segment");
        checkAlive(dst);
    }

    /** The kernel sees only addresses: refuse memory whose arena is already closed rather than hand it freed memory. */
    private static void checkAlive(MemorySegment segment) {
        if (!segment.scope().isAlive()) throw new IllegalStateException("segment's arena is closed");
    }

    /** One recvmsg of up to {@code wanted} bytes into {@code dst} at {@code offset}; called with the receive lock held. */
    private long receiveOnce(MemorySegment dst, long offset, long wanted, List<Fd> fdsOut, Wait wait)
            throws LinuxException {
        return receiveOnce(dst, offset, wanted, fdsOut, wait, 1);
    }

    /**
     * One recvmsg into {@code dst} at {@code offset} and, with {@code iovecs} 2, then into the
     * second entry of {@code receiving.iov} (set by the caller; native memory only); with the receive lock held.
     */
    private long receiveOnce(MemorySegment dst, long offset, long wanted, List<Fd> fdsOut, Wait wait, int iovecs)
            throws LinuxException {
        if (closed) throw LinuxException.explained("recvmsg", "socket closed", Errno.EBADF);
        if (wait == Wait.BUFFERED) return -1;
        // a pointer is 8 bytes on x86-64
        receiving.iov.set(JAVA_LONG, Libc.IOVEC_BASE, receiving.bounce.destination(dst, offset, wanted));
        receiving.iov.set(JAVA_LONG, Libc.IOVEC_LEN, receiving.bounce.length());
        long controlLength = Libc.cmsgSpace(maxReceiveFds * 4L);
        int flags = wait == Wait.DONT_WAIT ? Libc.MSG_CMSG_CLOEXEC | Libc.MSG_DONTWAIT : Libc.MSG_CMSG_CLOEXEC;

        int number = fd.acquire("recvmsg");
        try {
            long n;
            while (true) {
                receiving.header.fill((byte) 0);
                receiving.header.set(ADDRESS, Libc.MSG_IOV, receiving.iov);
                receiving.header.set(JAVA_LONG, Libc.MSG_IOVLEN, iovecs);
                receiving.header.set(ADDRESS, Libc.MSG_CONTROL, receiving.control);
                receiving.header.set(JAVA_LONG, Libc.MSG_CONTROLLEN, controlLength);
                n = Syscalls.recvmsg(receiving.capture, number, receiving.header, flags);
                if (n == -Errno.EINTR) continue;
                if (n == -Errno.EAGAIN) {
                    if (wait != Wait.BLOCK) return -1;
                    Linux.poll(fd, Libc.POLLIN, -1); // a non-blocking fd handed to adopt(): wait, then go on
                    continue;
                }
                Syscalls.check(n, "recvmsg");
                break;
            }
            int firstNew = fdsOut.size();
            collectRights(fdsOut);
            if ((receiving.header.get(JAVA_INT, Libc.MSG_FLAGS) & Libc.MSG_CTRUNC) != 0) {
                closeAndRemoveFrom(fdsOut, firstNew);
                throw LinuxException.explained("recvmsg",
                        "too many fds (the message carried more than " + maxReceiveFds + ")", Errno.EMSGSIZE);
            }
            receiving.bounce.deliver(dst, offset, n);
            return n;
        } finally {
            fd.release();
        }
    }

    /** Adopts every fd of the SCM_RIGHTS messages in the receive control buffer. */
    private void collectRights(List<Fd> fdsOut) {
        long used = receiving.header.get(JAVA_LONG, Libc.MSG_CONTROLLEN);
        long position = 0;
        while (position + Libc.CMSG_HEADER_SIZE <= used) {
            long length = receiving.control.get(JAVA_LONG, position + Libc.CMSG_LEN_FIELD);
            if (length < Libc.CMSG_HEADER_SIZE || position + length > used) break;
            if (receiving.control.get(JAVA_INT, position + Libc.CMSG_LEVEL) == Libc.SOL_SOCKET
                    && receiving.control.get(JAVA_INT, position + Libc.CMSG_TYPE) == Libc.SCM_RIGHTS) {
                long count = (length - Libc.CMSG_HEADER_SIZE) / 4;
                for (long i = 0; i < count; i++) {
                    fdsOut.add(Fd.adopt(receiving.control.get(JAVA_INT, position + Libc.CMSG_HEADER_SIZE + 4 * i)));
                }
            }
            position += Libc.cmsgAlign(length);
        }
    }

    private static void closeAndRemoveFrom(List<Fd> fds, int firstIndex) {
        while (fds.size() > firstIndex) fds.removeLast().close();
    }

    // ---------------------------------------------------------------- the rest

    /**
     * The process, user and groups (primary and supplementary) at the other end, as recorded when the
     * connection was made.
     */
    public PeerCredentials peerCredentials() throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment credentials = scratch.bytes.asSlice(0, Libc.UCRED.byteSize());
        MemorySegment length = scratch.bytes.asSlice(16, 4);
        length.set(JAVA_INT, 0, (int) Libc.UCRED.byteSize());
        int number = fd.acquire("getsockopt");
        try {
            Syscalls.check(Syscalls.getsockopt(scratch.captureState, number, Libc.SOL_SOCKET, Libc.SO_PEERCRED,
                    credentials, length), "getsockopt", "SO_PEERCRED");
            return new PeerCredentials(credentials.get(JAVA_INT, Libc.UCRED_PID),
                    credentials.get(JAVA_INT, Libc.UCRED_UID), credentials.get(JAVA_INT, Libc.UCRED_GID),
                    peerGroups(scratch, number));
        } finally {
            fd.release();
        }
    }

    /** SO_PEERGROUPS: the peer's supplementary groups; none on a kernel without it (before 4.13). */
    private static Set<Integer> peerGroups(Libc.Scratch scratch, int number) throws LinuxException {
        MemorySegment length = scratch.bytes.asSlice(16, 4);
        MemorySegment groups = scratch.bytes.asSlice(32); // room for 56: most processes have fewer
        length.set(JAVA_INT, 0, (int) groups.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            int result = Syscalls.getsockopt(scratch.captureState, number, Libc.SOL_SOCKET, Libc.SO_PEERGROUPS, groups, length);
            if (result == -Errno.ERANGE) { // the kernel wrote the size it needs into length
                groups = arena.allocate(length.get(JAVA_INT, 0), 4);
                length.set(JAVA_INT, 0, (int) groups.byteSize());
                result = Syscalls.getsockopt(scratch.captureState, number, Libc.SOL_SOCKET, Libc.SO_PEERGROUPS, groups, length);
            }
            if (result == -Errno.ENOPROTOOPT) {
                return Set.of();
            }
            Syscalls.check(result, "getsockopt", "SO_PEERGROUPS");
            Set<Integer> gids = new HashSet<>();
            for (int i = 0; i < length.get(JAVA_INT, 0) / 4; i++) {
                gids.add(groups.getAtIndex(JAVA_INT, i));
            }
            return gids;
        }
    }

    /**
     * shutdown(SHUT_RDWR): the peer sees end of stream, and a thread blocked here in a receive (or a
     * send) returns. Never throws; a closed socket or one not connected is left as it is.
     */
    public void shutdown() {
        shutdown(fd);
    }

    /** Best-effort shutdown(SHUT_RDWR) of {@code socket}; used by the server socket too. */
    static void shutdown(Fd socket) {
        int number;
        try {
            number = socket.acquire("shutdown");
        } catch (LinuxException closed) {
            return;
        }
        try {
            // ENOTCONN (never connected or already reset) needs nothing further; nothing else is actionable.
            Syscalls.shutdown(Libc.scratch().captureState, number, Libc.SHUT_RDWR);
        } finally {
            socket.release();
        }
    }

    /** The socket's own descriptor, for polling; closing the socket closes it. */
    public Fd fd() {
        return fd;
    }

    /**
     * Shuts the connection down (waking blocked receivers and senders), waits for them to leave,
     * then closes the fd and frees the native buffers. Idempotent.
     */
    @Override
    public void close() {
        if (!closeRequested.compareAndSet(false, true)) return;
        shutdown();
        closeDescriptor();
    }

    /**
     * Closes this process's descriptor and buffers but leaves the connection up: for a socket whose
     * other descriptors (sent to another process with SCM_RIGHTS) go on using it. A thread blocked
     * here is not woken. Idempotent, and a no-op after {@link #close()}.
     */
    public void release() {
        if (!closeRequested.compareAndSet(false, true)) return;
        closeDescriptor();
    }

    private void closeDescriptor() {
        receiving.lock.lock();
        try {
            sending.lock.lock();
            try {
                closed = true;
                fd.close();
                sending.bounce.close();
                receiving.bounce.close();
                arena.close();
            } finally {
                sending.lock.unlock();
            }
        } finally {
            receiving.lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "UnixSocket[" + fd + "]";
    }
}
