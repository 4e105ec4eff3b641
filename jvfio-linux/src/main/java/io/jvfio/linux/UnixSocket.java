package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
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

    private static final int POLLIN = 0x1;
    private static final int POLLOUT = 0x4;
    private static final int MSG_DONTWAIT = 0x40;
    /** At most this many segments go out in one {@code send}. */
    private static final int MAX_GATHER = 2;
    /** Room for the largest SCM_RIGHTS message the kernel accepts, so no resizing is ever needed. */
    private static final long CONTROL_CAPACITY = Libc.cmsgSpace(Libc.SCM_MAX_FD * 4L);

    private final Fd fd;
    private final Arena arena = Arena.ofShared();
    private final AtomicBoolean closeRequested = new AtomicBoolean();
    /** Set under both locks, so a holder of either sees a stable value. */
    private volatile boolean closed;

    private final ReentrantLock sendLock = new ReentrantLock();
    private final MemorySegment sendCaptureState;
    private final MemorySegment sendHeader;
    private final MemorySegment sendIov;
    private final MemorySegment sendControl;
    private final BounceBuffer sendBounce = new BounceBuffer();

    private final ReentrantLock receiveLock = new ReentrantLock();
    private final MemorySegment receiveCaptureState;
    private final MemorySegment receiveHeader;
    private final MemorySegment receiveIov;
    private final MemorySegment receiveControl;
    private final BounceBuffer receiveBounce = new BounceBuffer();
    private volatile int maxReceiveFds = DEFAULT_MAX_RECEIVE_FDS;

    private UnixSocket(Fd fd) {
        this.fd = fd;
        sendCaptureState = Libc.allocateCaptureState(arena);
        sendHeader = arena.allocate(Libc.MSGHDR);
        sendIov = arena.allocate(Libc.IOVEC.byteSize() * MAX_GATHER, 8);
        sendControl = arena.allocate(CONTROL_CAPACITY, 8);
        receiveCaptureState = Libc.allocateCaptureState(arena);
        receiveHeader = arena.allocate(Libc.MSGHDR);
        receiveIov = arena.allocate(Libc.IOVEC.byteSize() * 2, 8);
        receiveControl = arena.allocate(CONTROL_CAPACITY, 8);
    }

    /** Connects to the socket at {@code path}; failures name the path. */
    public static UnixSocket connect(Path path) throws LinuxException {
        Fd socket = newSocket();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment address = Libc.sockaddrUn(call, "connect", path);
            MemorySegment captureState = Libc.scratch().captureState;
            int number = socket.value();
            boolean interrupted = false;
            while (true) {
                int result = (int) Libc.CONNECT.H.invokeExact(captureState, number, address, (int) address.byteSize());
                if (result == 0) break;
                int errno = Libc.errno(captureState);
                // After EINTR the connection proceeds on its own; a retry then reports it as done.
                if (interrupted && errno == Errno.EISCONN) break;
                if (errno == Errno.EINTR || (interrupted && errno == Errno.EALREADY)) {
                    interrupted = true;
                    continue;
                }
                throw new LinuxException("connect", path.toString(), errno);
            }
            return new UnixSocket(socket);
        } catch (Throwable t) {
            socket.close();
            if (t instanceof LinuxException e) throw e;
            throw Libc.rethrow(t);
        }
    }

    /** Two connected sockets (socketpair), both close-on-exec. */
    public static UnixSocket[] pair() throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment numbers = scratch.bytes.asSlice(0, 8);
        try {
            int result = (int) Libc.SOCKETPAIR.H.invokeExact(scratch.captureState, Libc.AF_UNIX,
                    Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, numbers);
            if (result < 0) throw new LinuxException("socketpair", Libc.errno(scratch.captureState));
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        Fd first = Fd.adopt(numbers.get(JAVA_INT, 0));
        Fd second = Fd.adopt(numbers.get(JAVA_INT, 4));
        return new UnixSocket[] {new UnixSocket(first), new UnixSocket(second)};
    }

    /** Wraps a connected stream socket; this object owns {@code fd} from now on. */
    public static UnixSocket adopt(Fd fd) {
        return new UnixSocket(fd);
    }

    static Fd newSocket() throws LinuxException {
        MemorySegment captureState = Libc.scratch().captureState;
        try {
            int number = (int) Libc.SOCKET.H.invokeExact(captureState, Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
            if (number < 0) throw new LinuxException("socket", Libc.errno(captureState));
            return Fd.adopt(number);
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
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
        sendLock.lock();
        try {
            if (closed) throw LinuxException.explained("sendmsg", "socket closed", Errno.EBADF);
            int number = fd.acquire("sendmsg");
            try {
                long controlLength = fds.isEmpty() ? 0 : fillRights(fds);
                long sent = 0;
                while (sent < total) {
                    int iovCount = fillSendIov(first, second, sent);
                    sendHeader.fill((byte) 0);
                    sendHeader.set(ADDRESS, Libc.MSG_IOV, sendIov);
                    sendHeader.set(JAVA_LONG, Libc.MSG_IOVLEN, iovCount);
                    if (controlLength > 0) {
                        sendHeader.set(ADDRESS, Libc.MSG_CONTROL, sendControl);
                        sendHeader.set(JAVA_LONG, Libc.MSG_CONTROLLEN, controlLength);
                    }
                    long n = (long) Libc.SENDMSG.H.invokeExact(sendCaptureState, number, sendHeader, Libc.MSG_NOSIGNAL);
                    if (n < 0) {
                        int errno = Libc.errno(sendCaptureState);
                        if (errno == Errno.EINTR) continue;
                        if (errno == Errno.EAGAIN) { // a non-blocking fd handed to adopt(): wait, then go on
                            Linux.poll(fd, POLLOUT, -1);
                            continue;
                        }
                        throw new LinuxException("sendmsg", errno);
                    }
                    controlLength = 0; // the fds went with the first bytes
                    sent += n;
                }
            } finally {
                fd.release();
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            sendLock.unlock();
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
        if (!sendLock.tryLock()) {
            return false;
        }
        try {
            if (closed) throw LinuxException.explained("sendmsg", "socket closed", Errno.EBADF);
            boolean absorbing = true;
            int number = fd.acquire("sendmsg");
            try {
                long sent = 0;
                while (sent < total) {
                    int iovCount = fillSendIov(first, second, sent);
                    sendHeader.fill((byte) 0);
                    sendHeader.set(ADDRESS, Libc.MSG_IOV, sendIov);
                    sendHeader.set(JAVA_LONG, Libc.MSG_IOVLEN, iovCount);
                    long n = (long) Libc.SENDMSG.H.invokeExact(sendCaptureState, number, sendHeader,
                            Libc.MSG_NOSIGNAL | MSG_DONTWAIT);
                    if (n >= 0) {
                        sent += n;
                        continue;
                    }
                    int errno = Libc.errno(sendCaptureState);
                    if (errno == Errno.EINTR) continue;
                    if (errno != Errno.EAGAIN) throw new LinuxException("sendmsg", errno);
                    if (sent == 0) return false;
                    // Part of the message is out: finish it, reading meanwhile.
                    absorbing &= whileFull.canAbsorb();
                    int ready = Linux.poll(fd, POLLOUT | (absorbing ? POLLIN : 0), -1);
                    if (absorbing && (ready & POLLIN) != 0) {
                        absorbing = whileFull.absorb();
                    }
                }
                return true;
            } finally {
                fd.release();
            }
        } catch (java.io.IOException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            sendLock.unlock();
        }
    }

    /** Writes one SCM_RIGHTS control message for {@code fds}; returns its length for msg_controllen. */
    private long fillRights(List<Fd> fds) {
        long payload = fds.size() * 4L;
        sendControl.fill((byte) 0);
        sendControl.set(JAVA_LONG, Libc.CMSG_LEN_FIELD, Libc.cmsgLen(payload));
        sendControl.set(JAVA_INT, Libc.CMSG_LEVEL, Libc.SOL_SOCKET);
        sendControl.set(JAVA_INT, Libc.CMSG_TYPE, Libc.SCM_RIGHTS);
        for (int i = 0; i < fds.size(); i++) {
            sendControl.set(JAVA_INT, Libc.CMSG_HEADER_SIZE + 4L * i, fds.get(i).value());
        }
        return Libc.cmsgSpace(payload);
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
        long heapBytes = (first.isNative() ? 0 : firstRest) + (second.isNative() ? 0 : secondRest);
        MemorySegment bounce = heapBytes > 0 ? sendBounce.reserve(heapBytes) : MemorySegment.NULL;

        int count = 0;
        long bounceUsed = 0;
        if (firstRest > 0) {
            long length = addSendEntry(count++, first, firstSkip, firstRest, bounce, bounceUsed);
            if (!first.isNative()) bounceUsed += length;
            // Later bytes cannot be queued ahead of the part of this segment that did not fit.
            if (length < firstRest) return count;
        }
        if (secondRest > 0) addSendEntry(count++, second, secondSkip, secondRest, bounce, bounceUsed);
        return count;
    }

    /** Fills iovec {@code index} with up to {@code length} bytes of {@code segment} from {@code offset}; returns how many. */
    private long addSendEntry(int index, MemorySegment segment, long offset, long length, MemorySegment bounce,
            long bounceUsed) {
        long address;
        if (segment.isNative()) {
            address = segment.address() + offset;
        } else {
            length = Math.min(length, bounce.byteSize() - bounceUsed);
            MemorySegment.copy(segment, offset, bounce, bounceUsed, length);
            address = bounce.address() + bounceUsed;
        }
        long entry = index * Libc.IOVEC.byteSize();
        sendIov.set(JAVA_LONG, entry + Libc.IOVEC_BASE, address); // a pointer is 8 bytes on x86-64
        sendIov.set(JAVA_LONG, entry + Libc.IOVEC_LEN, length);
        return length;
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
        receiveLock.lock();
        int firstNew = fdsOut.size();
        try {
            long received = 0;
            while (received < dst.byteSize()) {
                long n = receiveOnce(dst, received, dst.byteSize() - received, fdsOut, WAIT);
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
            receiveLock.unlock();
        }
    }

    /**
     * One recvmsg of up to {@code dst.byteSize()} bytes (fewer for heap memory larger than the bounce
     * buffer); returns the count, 0 at end of stream. Arriving fds are appended to {@code fdsOut}.
     */
    public int receiveSome(MemorySegment dst, List<Fd> fdsOut) throws IOException {
        checkWritable(dst);
        if (dst.byteSize() == 0) return 0;
        receiveLock.lock();
        try {
            return (int) receiveOnce(dst, 0, Math.min(dst.byteSize(), Integer.MAX_VALUE), fdsOut, WAIT);
        } finally {
            receiveLock.unlock();
        }
    }

    /**
     * {@link #receiveSome} without waiting (MSG_DONTWAIT): -1 when no data is there yet, 0 at end of
     * stream, else the count. Lets a caller that expects an answer soon skip a poll when it is
     * already there.
     */
    public int receiveAvailable(MemorySegment dst, List<Fd> fdsOut) throws IOException {
        checkWritable(dst);
        if (dst.byteSize() == 0) return 0;
        receiveLock.lock();
        try {
            return (int) receiveOnce(dst, 0, Math.min(dst.byteSize(), Integer.MAX_VALUE), fdsOut, DONT_WAIT);
        } finally {
            receiveLock.unlock();
        }
    }

    /** How {@link #receiveInto} waits: until data comes; not at all (MSG_DONTWAIT); at most the receive timeout. */
    static final int WAIT = 0, DONT_WAIT = 1, TIMED = 2;

    /**
     * One recvmsg of up to {@code wanted} bytes into {@code dst} at {@code offset} (native memory,
     * nothing sliced or allocated). {@code mode} {@link #WAIT} waits for data; {@link #DONT_WAIT}
     * returns -1 at once when there is none; {@link #TIMED} waits at most the receive timeout (or
     * not at all on a non-blocking fd), then returns -1. 0 at end of stream.
     */
    long receiveInto(MemorySegment dst, long offset, long wanted, List<Fd> fdsOut, int mode) throws IOException {
        checkAlive(dst);
        if (!dst.isNative() || offset < 0 || wanted <= 0 || offset + wanted > dst.byteSize()) {
            throw new IllegalArgumentException("receive into [" + offset + ", +" + wanted + ") of " + dst);
        }
        receiveLock.lock();
        try {
            return receiveOnce(dst, offset, wanted, fdsOut, mode);
        } finally {
            receiveLock.unlock();
        }
    }

    /**
     * {@link #receiveInto} with two destinations, filled in order: up to {@code firstLength} bytes
     * into {@code first} at {@code firstOffset}, then up to {@code secondLength} into {@code second}
     * at {@code secondOffset} (both native; {@code firstLength} may be 0). Lets a reader put a
     * message's header in its buffer and the payload where it is wanted, in one recvmsg.
     */
    long receiveInto(MemorySegment first, long firstOffset, long firstLength, MemorySegment second, long secondOffset,
            long secondLength, List<Fd> fdsOut, int mode) throws IOException {
        checkAlive(first);
        checkAlive(second);
        if (!first.isNative() || !second.isNative() || second.isReadOnly() || firstOffset < 0 || firstLength < 0
                || firstOffset + firstLength > first.byteSize() || secondOffset < 0 || secondLength <= 0
                || secondOffset + secondLength > second.byteSize()) {
            throw new IllegalArgumentException("receive into [" + firstOffset + ", +" + firstLength + ") of " + first
                    + " and [" + secondOffset + ", +" + secondLength + ") of " + second);
        }
        receiveLock.lock();
        try {
            long iovec = Libc.IOVEC.byteSize();
            receiveIov.set(JAVA_LONG, iovec + Libc.IOVEC_BASE, second.address() + secondOffset);
            receiveIov.set(JAVA_LONG, iovec + Libc.IOVEC_LEN, secondLength);
            return receiveOnce(first, firstOffset, firstLength, fdsOut, mode, 2);
        } finally {
            receiveLock.unlock();
        }
    }

    /**
     * SO_RCVTIMEO: a receive that waits returns after {@code timeout} without data. Plain receives
     * ({@link #receiveFully}, {@link #receiveSome}) then go on waiting (poll); it bounds only the
     * timed receives of a {@link MessageReceiver}.
     */
    public void setReceiveTimeout(java.time.Duration timeout) throws LinuxException {
        long micros = Math.max(1, timeout.toNanos() / 1000);
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment timeval = scratch.bytes.asSlice(0, 16);
        timeval.set(JAVA_LONG, 0, micros / 1_000_000);
        timeval.set(JAVA_LONG, 8, micros % 1_000_000);
        int number = fd.acquire("setsockopt");
        try {
            int result = (int) Libc.SETSOCKOPT.H.invokeExact(scratch.captureState, number, Libc.SOL_SOCKET,
                    Libc.SO_RCVTIMEO, timeval, 16);
            if (result < 0) throw new LinuxException("setsockopt", "SO_RCVTIMEO", Libc.errno(scratch.captureState));
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
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
    private long receiveOnce(MemorySegment dst, long offset, long wanted, List<Fd> fdsOut, int mode)
            throws LinuxException {
        return receiveOnce(dst, offset, wanted, fdsOut, mode, 1);
    }

    /**
     * One recvmsg into {@code dst} at {@code offset} and, with {@code iovecs} 2, then into the
     * second entry of {@code receiveIov} (set by the caller; native memory only); with the receive lock held.
     */
    private long receiveOnce(MemorySegment dst, long offset, long wanted, List<Fd> fdsOut, int mode, int iovecs)
            throws LinuxException {
        if (closed) throw LinuxException.explained("recvmsg", "socket closed", Errno.EBADF);
        MemorySegment bounce = dst.isNative() ? MemorySegment.NULL : receiveBounce.reserve(wanted);
        long address = dst.isNative() ? dst.address() + offset : bounce.address();
        long length = dst.isNative() ? wanted : Math.min(wanted, bounce.byteSize());
        receiveIov.set(JAVA_LONG, Libc.IOVEC_BASE, address); // a pointer is 8 bytes on x86-64
        receiveIov.set(JAVA_LONG, Libc.IOVEC_LEN, length);
        long controlLength = Libc.cmsgSpace(maxReceiveFds * 4L);

        int number = fd.acquire("recvmsg");
        try {
            long n;
            while (true) {
                receiveHeader.fill((byte) 0);
                receiveHeader.set(ADDRESS, Libc.MSG_IOV, receiveIov);
                receiveHeader.set(JAVA_LONG, Libc.MSG_IOVLEN, iovecs);
                receiveHeader.set(ADDRESS, Libc.MSG_CONTROL, receiveControl);
                receiveHeader.set(JAVA_LONG, Libc.MSG_CONTROLLEN, controlLength);
                n = (long) Libc.RECVMSG.H.invokeExact(receiveCaptureState, number, receiveHeader,
                        mode == DONT_WAIT ? Libc.MSG_CMSG_CLOEXEC | MSG_DONTWAIT : Libc.MSG_CMSG_CLOEXEC);
                if (n >= 0) break;
                int errno = Libc.errno(receiveCaptureState);
                if (errno == Errno.EINTR) continue;
                if (errno == Errno.EAGAIN && mode != WAIT) return -1;
                if (errno == Errno.EAGAIN) { // a non-blocking fd handed to adopt(): wait, then go on
                    Linux.poll(fd, POLLIN, -1);
                    continue;
                }
                throw new LinuxException("recvmsg", errno);
            }
            int firstNew = fdsOut.size();
            collectRights(fdsOut);
            if ((receiveHeader.get(JAVA_INT, Libc.MSG_FLAGS) & Libc.MSG_CTRUNC) != 0) {
                closeAndRemoveFrom(fdsOut, firstNew);
                throw LinuxException.explained("recvmsg",
                        "too many fds (the message carried more than " + maxReceiveFds + ")", Errno.EMSGSIZE);
            }
            if (!dst.isNative() && n > 0) MemorySegment.copy(bounce, 0, dst, offset, n);
            return n;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** Adopts every fd of the SCM_RIGHTS messages in the receive control buffer. */
    private void collectRights(List<Fd> fdsOut) {
        long used = receiveHeader.get(JAVA_LONG, Libc.MSG_CONTROLLEN);
        long position = 0;
        while (position + Libc.CMSG_HEADER_SIZE <= used) {
            long length = receiveControl.get(JAVA_LONG, position + Libc.CMSG_LEN_FIELD);
            if (length < Libc.CMSG_HEADER_SIZE || position + length > used) break;
            if (receiveControl.get(JAVA_INT, position + Libc.CMSG_LEVEL) == Libc.SOL_SOCKET
                    && receiveControl.get(JAVA_INT, position + Libc.CMSG_TYPE) == Libc.SCM_RIGHTS) {
                long count = (length - Libc.CMSG_HEADER_SIZE) / 4;
                for (long i = 0; i < count; i++) {
                    fdsOut.add(Fd.adopt(receiveControl.get(JAVA_INT, position + Libc.CMSG_HEADER_SIZE + 4 * i)));
                }
            }
            position += Libc.cmsgAlign(length);
        }
    }

    private static void closeAndRemoveFrom(List<Fd> fds, int firstIndex) {
        while (fds.size() > firstIndex) fds.removeLast().close();
    }

    // ---------------------------------------------------------------- the rest

    /** The process, user and group at the other end, as recorded when the connection was made. */
    public PeerCredentials peerCredentials() throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment credentials = scratch.bytes.asSlice(0, Libc.UCRED.byteSize());
        MemorySegment length = scratch.bytes.asSlice(16, 4);
        length.set(JAVA_INT, 0, (int) Libc.UCRED.byteSize());
        int number = fd.acquire("getsockopt");
        try {
            int result = (int) Libc.GETSOCKOPT.H.invokeExact(scratch.captureState, number, Libc.SOL_SOCKET,
                    Libc.SO_PEERCRED, credentials, length);
            if (result < 0) throw new LinuxException("getsockopt", "SO_PEERCRED", Libc.errno(scratch.captureState));
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            fd.release();
        }
        return new PeerCredentials(credentials.get(JAVA_INT, Libc.UCRED_PID),
                credentials.get(JAVA_INT, Libc.UCRED_UID), credentials.get(JAVA_INT, Libc.UCRED_GID));
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
            int ignored = (int) Libc.SHUTDOWN.H.invokeExact(Libc.scratch().captureState, number, Libc.SHUT_RDWR);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
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
        receiveLock.lock();
        try {
            sendLock.lock();
            try {
                closed = true;
                fd.close();
                sendBounce.close();
                receiveBounce.close();
                arena.close();
            } finally {
                sendLock.unlock();
            }
        } finally {
            receiveLock.unlock();
        }
    }

    @Override
    public String toString() {
        return "UnixSocket[" + fd + "]";
    }
}
