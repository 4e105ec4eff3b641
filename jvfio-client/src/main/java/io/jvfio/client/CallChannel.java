package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.ProtocolException;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The calls of a {@link VfioUserClient} over its socket: message ids, sending, the routing of
 * replies to their callers, timeouts, the reader thread, and the connection's death.
 *
 * <p>Whoever waits for a reply reads the socket itself (one recvmsg, bounded by SO_RCVTIMEO, usually
 * takes a whole message): it takes its own reply and delivers the others' on the way. While no call
 * waits, the reader thread reads. The server's own requests met on the way go to
 * {@link ServerRequests}, which never makes the reading thread wait on a send. When the server goes
 * away, or sends something that cannot be framed, every waiting call fails at once with ENOTCONN,
 * and so does every later one.
 */
final class CallChannel {
    private static final System.Logger LOG = System.getLogger(VfioUserClient.class.getName());
    private static final int ID_SPACE = 1 << 16;
    private static final int POLLIN = 1;
    /** SO_RCVTIMEO of the client's socket: a caller in recvmsg looks at its deadline this often. */
    private static final Duration RECEIVE_TIMEOUT = Duration.ofMillis(20);
    /** First size of the receive buffer (grown up to the largest message the client takes). */
    private static final long RECEIVE_BUFFER = 64 << 10;
    /** The reader thread leaves the socket to callers while they wait, and for this long after. */
    private static final long READER_IDLE_NANOS = 2_000_000;
    /** How long after a server command the reader takes the socket back as soon as no call waits. */
    private static final long SERVER_ACTIVE_NANOS = 100_000_000;

    private final UnixSocket socket;
    private final long maxIncoming;
    private final Duration callTimeout;
    /** Calls waiting for a reply, by message id (an array, so registering one allocates nothing). */
    private final AtomicReferenceArray<PendingCall> calls = new AtomicReferenceArray<>(ID_SPACE);
    private final AtomicInteger ids = new AtomicInteger();
    /**
     * Whoever holds this reads the socket: a caller waiting for its reply (it reads its own reply,
     * and delivers others' replies and the server's requests on the way), or, while no call is
     * waiting, the reader thread. A caller that finds the reader thread polling kicks it off with
     * {@link #wake}.
     */
    private final ReentrantLock readLock = new ReentrantLock();
    private final AtomicInteger waiting = new AtomicInteger();
    private volatile long lastCallEnd = System.nanoTime();
    /** When a server command (DMA_READ/WRITE) last arrived: while they flow, the reader reads between calls. */
    private volatile long lastServerCommand = System.nanoTime() - SERVER_ACTIVE_NANOS;
    private volatile boolean readerPolling;
    private final EventFd wake;
    /** Buffered receive of whoever holds {@link #readLock}: usually one recvmsg per message. */
    private final MessageReceiver<ProtocolException> receiver;
    private final List<Fd> rxFds = new ArrayList<>();
    /** Whether messages (or parts) wait in the receive buffer with no one reading: the reader should look. */
    private volatile boolean rxBuffered;
    /** Whether the socket's SO_RCVTIMEO is set, so a caller may wait for its reply in recvmsg itself. */
    private final boolean timedReceive;
    private final Thread reader;
    /** How the reading thread keeps reading while it waits to send an answer (see {@link Absorber}). */
    private final UnixSocket.WhileFull absorber = new Absorber();
    /** Set once, before the reader starts. */
    private ServerRequests requests;
    private volatile VfioUserException dead;
    private volatile boolean closing;

    CallChannel(UnixSocket socket, ClientOptions options) throws LinuxException {
        this.wake = EventFd.create();
        this.socket = socket;
        this.callTimeout = options.callTimeout();
        long max = options.maxIncomingMessage();
        this.maxIncoming = max;
        // Freed with the client (a reader may still hold it while it closes); grown for large messages.
        MemorySegment buffer = Arena.ofAuto().allocate(Math.min(max, RECEIVE_BUFFER), 8);
        this.receiver = new MessageReceiver<>(socket, buffer, Header.SIZE, max, header -> {
            Header.validate(header, max);
            return Header.messageSize(header);
        });
        socket.setMaxReceiveFds(options.maxMsgFds());
        boolean timed = true;
        try {
            socket.setReceiveTimeout(RECEIVE_TIMEOUT);
        } catch (LinuxException e) {
            timed = false; // then the caller polls before each receive
        }
        this.timedReceive = timed;
        this.reader = Thread.ofPlatform().name("jvfio-client-reader").daemon().unstarted(this::readLoop);
    }

    /** Where the server's requests go; set before {@link #start}. */
    void serveWith(ServerRequests requests) {
        this.requests = requests;
    }

    void start() {
        reader.start();
    }

    UnixSocket socket() {
        return socket;
    }

    long maxIncoming() {
        return maxIncoming;
    }

    Duration callTimeout() {
        return callTimeout;
    }

    // ---------------------------------------------------------------- calls

    /** Sends a command and waits for its reply; an error reply becomes a {@link VfioUserException}. */
    VfioUserClient.Reply call(Command command, Payload request, List<Fd> fds, Duration timeout, long maxReply,
            int maxReplyFds) throws IOException {
        checkAlive();
        long requestSize = request == null ? 0 : request.encodedSize();
        // Like QEMU: a reply may be as large as the request, or as the call says it can take.
        PendingCall call = new PendingCall(command, Math.min(maxIncoming, Math.max(maxReply, requestSize)), maxReplyFds);
        int id = register(call);
        try {
            if (dead != null) {          // died between checkAlive and register: the reader may not have seen us
                throw connectionGone();
            }
            send(id, command, request, fds, false);
        } catch (IOException | RuntimeException e) {
            calls.compareAndSet(id, call, null);
            throw e;
        }
        VfioUserClient.Reply reply = awaitReply(call, id, timeout);
        if (reply == null) {
            throw connectionGone();
        }
        return reply;
    }

    /** Sends a command with NO_REPLY. */
    void post(Command command, Payload request) throws IOException {
        checkAlive();
        send(postedId(), command, request, List.of(), true);
    }

    /**
     * Waits for {@code call}'s reply, reading the socket itself whenever no one else does, and
     * frees its id. Returns the reply (its error flag already turned into an exception), or null
     * when the caller's own read completed a direct call in place.
     */
    VfioUserClient.Reply awaitReply(PendingCall call, int id, Duration timeout) throws IOException {
        Command command = call.command;
        boolean interrupted = false;
        long deadline = System.nanoTime() + Math.max(1_000_000L, timeout.toNanos());
        waiting.incrementAndGet();
        try {
            while (call.state.get() == PendingCall.WAITING) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                if (!readLock.tryLock()) {
                    if (readerPolling) {
                        kickReader();
                    }
                    try {
                        if (!readLock.tryLock(left, TimeUnit.NANOSECONDS)) {
                            break;
                        }
                    } catch (InterruptedException e) {
                        interrupted = true;
                        break;
                    }
                }
                try {
                    readUntilDone(call, deadline);
                } finally {
                    readLock.unlock();
                }
            }
        } finally {
            long now = System.nanoTime();
            lastCallEnd = now;
            if (waiting.decrementAndGet() == 0 && now - lastServerCommand < SERVER_ACTIVE_NANOS) {
                LockSupport.unpark(reader); // the server is sending requests: read them between our calls too
            }
        }
        if (call.state.get() == PendingCall.WAITING && call.state.compareAndSet(PendingCall.WAITING, PendingCall.ABANDONED)) {
            // The id stays taken until the late reply arrives and is dropped, so it cannot be misrouted.
            if (interrupted) {
                Thread.currentThread().interrupt();
                throw new VfioUserException(Errno.EINTR, command + ": interrupted");
            }
            throw new VfioUserException(Errno.ETIMEDOUT, command + ": no reply within " + timeout);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        calls.compareAndSet(id, call, null);
        if (call.failure != null) {
            throw call.failure;
        }
        VfioUserClient.Reply reply = call.reply;
        if (reply == null) {
            if (!call.direct) {
                throw connectionGone();
            }
            if ((call.directFlags & Header.FLAG_ERROR) != 0) {
                throw VfioUserException.serverError(command.toString(), call.directError != 0 ? call.directError : Errno.EIO);
            }
            return null;
        }
        if ((reply.flags() & Header.FLAG_ERROR) != 0) {
            reply.closeFds();
            throw VfioUserException.serverError(command.toString(), reply.error() != 0 ? reply.error() : Errno.EIO);
        }
        return reply;
    }

    /** With the read lock: reads messages until {@code call} is answered, the deadline passes or the connection dies. */
    private void readUntilDone(PendingCall call, long deadline) {
        try {
            while (call.state.get() == PendingCall.WAITING && dead == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                // Timed: wait in recvmsg itself (bounded by SO_RCVTIMEO), one system call per reply. Otherwise
                // (or once the timeout passed) poll for the rest of the deadline, then receive.
                int r = readOne(call, timedReceive ? MessageReceiver.Wait.TIMED : MessageReceiver.Wait.DONT_WAIT);
                if (r == MessageReceiver.NOTHING) {
                    int millis = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
                    if (Linux.poll(socket.fd(), POLLIN, millis) == 0) {
                        continue;
                    }
                    r = readOne(call, MessageReceiver.Wait.DONT_WAIT);
                }
                if (r == MessageReceiver.END) {
                    markDead(new VfioUserException(Errno.ENOTCONN, closing ? "the client was closed"
                            : "the server closed the connection"));
                    return;
                }
            }
        } catch (Throwable t) {
            markDead(deathCause(t));
        }
    }

    private void kickReader() {
        try {
            wake.signal();
        } catch (LinuxException e) {
            // closed: the client is going away and the reader with it
        }
    }

    /**
     * Receives one whole message with the read lock held (waiting as {@code wait} says) and routes
     * it: {@code mine}'s own direct reply is handled in place, anything else is copied out and
     * delivered or served. Returns {@link MessageReceiver#MESSAGE}, {@code END} or {@code NOTHING}.
     */
    private int readOne(PendingCall mine, MessageReceiver.Wait wait) throws IOException, ProtocolException {
        try {
            return route(mine, receiver.next(rxFds, wait));
        } finally {
            rxBuffered = receiver.buffered() > 0;
        }
    }

    private int route(PendingCall mine, int r) throws IOException {
        if (r != MessageReceiver.MESSAGE) {
            return r;
        }
        MemorySegment header = receiver.message();
        MemorySegment payload = receiver.body();
        try {
            if (Header.isReply(header)) {
                int id = Header.msgId(header);
                if (mine != null && mine.direct && rxFds.isEmpty() && calls.get(id) == mine
                        && mine.command.code() == Header.command(header) && mine.state.get() == PendingCall.WAITING) {
                    mine.completeDirect(header, payload);
                } else {
                    deliver(header, heapCopy(payload), rxFds);
                }
            } else {
                lastServerCommand = System.nanoTime();
                closeUnexpected(rxFds, "server command " + Header.command(header));
                requests.serveRead(header, payload, absorber);
            }
        } finally {
            rxFds.clear();
        }
        return r;
    }

    private static MemorySegment heapCopy(MemorySegment payload) {
        return MemorySegment.ofArray(payload.toArray(ValueLayout.JAVA_BYTE));
    }

    private void deliver(MemorySegment header, MemorySegment payload, List<Fd> fds) {
        int id = Header.msgId(header);
        PendingCall call = calls.get(id);
        if (call == null || call.command.code() != Header.command(header)) {
            LOG.log(Level.WARNING, "reply %d (command %d) matches no call; dropped".formatted(id, Header.command(header)));
            fds.forEach(Fd::close);
            return;
        }
        if (call.state.get() == PendingCall.ABANDONED) {
            LOG.log(Level.DEBUG, "late reply %d to %s dropped".formatted(id, call.command));
            calls.compareAndSet(id, call, null);
            fds.forEach(Fd::close);
            return;
        }
        if (payload.byteSize() > call.maxReplyPayload) {
            fds.forEach(Fd::close);
            call.fail(new VfioUserException(Errno.EPROTO, "%s reply of %d bytes is larger than the %d the call can take"
                    .formatted(call.command, payload.byteSize(), call.maxReplyPayload)));
            return;
        }
        List<Fd> mine = List.copyOf(fds);
        if (mine.size() > call.maxFds) {
            mine.forEach(Fd::close);
            if (call.maxFds > 0) {
                call.fail(new VfioUserException(Errno.EPROTO, "%s reply carried %d fds, at most %d expected"
                        .formatted(call.command, mine.size(), call.maxFds)));
                return;
            }
            LOG.log(Level.WARNING, "%s reply carried %d unexpected fds; closed".formatted(call.command, mine.size()));
            mine = List.of();
        }
        if (!call.complete(new VfioUserClient.Reply(Header.flags(header), Header.error(header), payload, mine))) {
            mine.forEach(Fd::close); // the caller gave up in the meantime
            if (call.state.get() == PendingCall.ABANDONED) {
                calls.compareAndSet(id, call, null);
            }
        }
    }

    static void closeUnexpected(List<Fd> fds, String what) {
        if (!fds.isEmpty()) {
            LOG.log(Level.WARNING, "%s carried %d fds; closed".formatted(what, fds.size()));
            fds.forEach(Fd::close);
            fds.clear();
        }
    }

    // ---------------------------------------------------------------- sending

    /** Takes a free message id for {@code call}: ids of calls in flight (or abandoned and still unanswered) are skipped. */
    int register(PendingCall call) throws VfioUserException {
        for (int i = 0; i < ID_SPACE; i++) {
            int id = ids.getAndIncrement() & 0xffff;
            if (calls.compareAndSet(id, null, call)) {
                return id;
            }
        }
        throw new VfioUserException(Errno.EBUSY, "all 65536 message ids are in use");
    }

    /** An id for a NO_REPLY command (no reply will look for it). */
    int postedId() {
        return ids.getAndIncrement() & 0xffff;
    }

    /** Sends a whole message prepared by the caller. */
    void sendRaw(Command command, MemorySegment message) throws IOException {
        try {
            socket.send(message, List.of());
        } catch (LinuxException e) {
            throw sendFailed(command, e);
        }
    }

    private void send(int id, Command command, Payload request, List<Fd> fds, boolean noReply) throws IOException {
        long size = Header.SIZE + (request == null ? 0 : request.encodedSize());
        if (size > Header.MAX_MESSAGE_SIZE || size > Integer.MAX_VALUE - 8) {
            throw new VfioUserException(Errno.E2BIG, command + ": message of " + size + " bytes is too large");
        }
        MemorySegment message = MemorySegment.ofArray(new byte[(int) size]);
        Header.writeCommand(message, id, command.code(), size, noReply);
        if (request != null) {
            request.encode(message.asSlice(Header.SIZE));
        }
        try {
            socket.send(message, fds);
        } catch (LinuxException e) {
            throw sendFailed(command, e);
        }
    }

    /** The connection is dead once a send fails: the exception for the caller who tried. */
    private VfioUserException sendFailed(Command command, LinuxException e) {
        VfioUserException gone = new VfioUserException(Errno.ENOTCONN, command + ": cannot send to the server: " + e.getMessage(), e);
        markDead(gone);
        return dead != null ? new VfioUserException(Errno.ENOTCONN, command + ": " + dead.getMessage(), e) : gone;
    }

    /** Decodes a reply's payload; what does not decode is EPROTO. */
    interface Decoder<T> {
        T decode() throws ProtocolException;
    }

    static <T> T decode(Decoder<T> decoder, String what) throws VfioUserException {
        try {
            return decoder.decode();
        } catch (ProtocolException e) {
            throw new VfioUserException(Errno.EPROTO, what + ": " + e.getMessage(), e);
        } catch (RuntimeException e) { // a decoder that trips over hostile bytes must not escape as an unchecked surprise
            throw new VfioUserException(Errno.EPROTO, what + ": " + e, e);
        }
    }

    // ---------------------------------------------------------------- life and death

    void checkAlive() throws VfioUserException {
        if (dead != null) {
            throw connectionGone();
        }
    }

    boolean isDead() {
        return dead != null;
    }

    VfioUserException failure() {
        return dead;
    }

    boolean closing() {
        return closing;
    }

    /** Marks the channel as closing; false if it already was. */
    synchronized boolean beginClose() {
        if (closing) {
            return false;
        }
        closing = true;
        return true;
    }

    VfioUserException connectionGone() {
        VfioUserException d = dead;
        String why = d != null ? d.getMessage() : closing ? "the client was closed" : "connection closed";
        return new VfioUserException(Errno.ENOTCONN, why, d);
    }

    /** Records why the connection died (the first reason wins) and fails every waiting call. */
    void markDead(VfioUserException why) {
        synchronized (this) {
            if (dead == null) {
                dead = why;
                if (!closing) {
                    LOG.log(Level.WARNING, why.getMessage());
                }
            }
        }
        for (int id = 0; id < ID_SPACE; id++) {
            PendingCall c = calls.get(id);
            if (c != null && !c.fail(connectionGone())) {
                calls.compareAndSet(id, c, null); // abandoned: nobody waits
            }
        }
        requests.connectionDied();
        LockSupport.unpark(reader);
        kickReader();
        socket.shutdown();
    }

    /** The connection's death, as a caller sees it, from what {@code t} says went wrong. */
    VfioUserException deathCause(Throwable t) {
        if (closing) {
            return new VfioUserException(Errno.ENOTCONN, "the client was closed", t);
        }
        if (t instanceof ProtocolException p) {
            return new VfioUserException(Errno.ENOTCONN, "malformed message from the server: " + p.getMessage(), p);
        }
        if (t instanceof EOFException) {
            return new VfioUserException(Errno.ENOTCONN, "the server closed the connection in the middle of a message", t);
        }
        if (t instanceof IOException) {
            return new VfioUserException(Errno.ENOTCONN, "connection to the server failed: " + t.getMessage(), t);
        }
        return new VfioUserException(Errno.ENOTCONN, "client reader failed: " + t, t);
    }

    /** After {@link #markDead}: waits for the reader thread to end. */
    void joinReader() {
        ServerRequests.join(reader);
    }

    /** Last: the socket and the reader's wake-up fd. */
    void closeSocket() {
        socket.close();
        wake.close();
    }

    // ---------------------------------------------------------------- the reader

    /**
     * The reader thread reads the socket while no call waits (the server's DMA requests, a hang-up),
     * and otherwise stays out of the callers' way: they read their own replies.
     */
    private void readLoop() {
        try {
            while (dead == null) {
                while (dead == null && (waiting.get() > 0 || (System.nanoTime() - lastCallEnd < READER_IDLE_NANOS
                        && System.nanoTime() - lastServerCommand >= SERVER_ACTIVE_NANOS && !rxBuffered))) {
                    LockSupport.parkNanos(READER_IDLE_NANOS);
                }
                if (dead != null || !readLock.tryLock()) {
                    continue;
                }
                try {
                    readerPolling = true;
                    while (dead == null && waiting.get() == 0) {
                        if (readOne(null, MessageReceiver.Wait.BUFFERED) == MessageReceiver.MESSAGE) {
                            continue; // left in the buffer by a caller's read
                        }
                        int ready = Linux.pollIn(socket.fd(), wake.fd(), -1);
                        if ((ready & 2) != 0) {
                            wake.read();
                        }
                        if ((ready & 1) != 0 && readOne(null, MessageReceiver.Wait.DONT_WAIT) == MessageReceiver.END) {
                            markDead(new VfioUserException(Errno.ENOTCONN, closing ? "the client was closed"
                                    : "the server closed the connection"));
                            return;
                        }
                    }
                } finally {
                    readerPolling = false;
                    readLock.unlock();
                }
            }
        } catch (Throwable t) {
            markDead(deathCause(t));
        }
    }

    /**
     * While the reading thread waits to finish an answer, it takes in what the server sends (see
     * UnixSocket.trySend); when its buffer is full it handles the complete messages in it without
     * sending anything (replies delivered, answers deferred to the DMA thread), so it never stops
     * reading, however much the server sends meanwhile.
     */
    private final class Absorber implements UnixSocket.WhileFull {
        private final List<Fd> fds = new ArrayList<>();

        @Override
        public boolean canAbsorb() {
            return true;
        }

        @Override
        public boolean absorb() throws IOException {
            if (!receiver.canAbsorb()) {
                try {
                    while (receiver.next(fds, MessageReceiver.Wait.BUFFERED) == MessageReceiver.MESSAGE) {
                        MemorySegment header = receiver.message();
                        MemorySegment payload = receiver.body();
                        if (Header.isReply(header)) {
                            deliver(header, heapCopy(payload), fds);
                        } else {
                            lastServerCommand = System.nanoTime();
                            closeUnexpected(fds, "server command " + Header.command(header));
                            requests.serveLater(header, payload);
                        }
                        fds.clear();
                    }
                } catch (ProtocolException e) {
                    throw new IOException("malformed message from the server: " + e.getMessage(), e);
                } finally {
                    fds.forEach(Fd::close);
                    fds.clear();
                }
            }
            return receiver.canAbsorb() && receiver.absorb();
        }
    }
}
