package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaReadReply;
import io.jvfio.protocol.DmaReadRequest;
import io.jvfio.protocol.DmaWriteReply;
import io.jvfio.protocol.DmaWriteRequest;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Message DMA: the device's accesses to client memory shared without an fd, as DMA_READ and
 * DMA_WRITE requests to the client — the {@link DmaTransport} a session attaches to its DMA space.
 * Device threads send requests and wait; the session thread hands each reply to
 * {@link #complete}, and while a DMA_READ is under way offers its receive the chunk expected next
 * ({@link #expectedRead()}) so the reply's data goes straight into the device's buffer.
 *
 * <p>Somewhat over 600 lines: the read and the write transfers share the request table, the
 * reply routing and the close; split, each half would reach into the other's state.
 */
public final class MessageDma implements DmaTransport {
    private static final System.Logger LOG = System.getLogger(MessageDma.class.getName());
    /** Header and address/count before a DMA_READ reply's data: what stays in the receive buffer when the data is placed. */
    static final int PLACED_PREFIX = Header.SIZE + DmaReadReply.SIZE;
    /**
     * Largest single DMA_READ we send. QEMU 11.1 sends a DMA_READ reply larger than its socket's
     * send buffer (about 208 KiB) only in part and never the rest, which wedges the session;
     * smaller messages cost little once several are in flight. A DMA_WRITE carries its data in our
     * request: it goes in chunks of the negotiated max_data_xfer_size.
     */
    public static final long DMA_MESSAGE_LIMIT = 64 << 10;
    /**
     * Requests of one transfer in flight at once. A DMA_READ's data comes back in the replies, so
     * at most two (128 KiB) wait in the client's socket: below QEMU's send buffer, as above. A
     * DMA_WRITE carries its data in the request; the replies are small and our own send waits for room.
     */
    public static final int READ_WINDOW = 2, WRITE_WINDOW = 4;
    /** Slots of {@link #recent}: far more than the requests in flight at once. */
    private static final int RECENT_IDS = 256;

    private final SessionTransport transport;
    private final ServerOptions options;
    private final ConcurrentHashMap<Integer, PendingDma> pending = new ConcurrentHashMap<>();
    /** The last request registered per low bits of its id, a hint for {@link #take}: {@link #pending} decides. */
    private final AtomicReferenceArray<PendingDma> recent = new AtomicReferenceArray<>(RECENT_IDS);
    /** DMA_READ chunks in the order they were asked for: the head's reply is expected next. */
    private final ConcurrentLinkedQueue<PendingDma> readOrder = new ConcurrentLinkedQueue<>();
    private final AtomicInteger nextId = new AtomicInteger();
    /** The largest data the client takes in one message (max_data_xfer_size), known from VERSION on. */
    private volatile long clientMaxDataXferSize;
    private volatile boolean closed;
    /** The thread that reads the session's messages; it must never wait for a DMA reply itself. */
    private volatile Thread sessionThread;

    /**
     * A DMA request of ours waiting for the client's reply. A DMA_READ chunk is also the placement
     * the session offers its receiver: the reply's data goes straight into the device's buffer.
     */
    private static final class PendingDma implements MessageReceiver.Placement {
        final int id;
        /** {@link #id} boxed once, by the registering thread: the key in {@link #pending}. */
        final Integer key;
        final Thread waiter;
        final MemorySegment readInto;  // null for DMA_WRITE
        /** {@link MessageReceiver#heldView} of a native {@link #readInto}, written only while held. */
        final MemorySegment heldReadInto;
        final long address;
        final long count;
        /** The read this chunk belongs to (it goes on when the chunk is answered), or null. */
        final ReadTransfer transfer;
        volatile int errno;
        volatile boolean done;

        PendingDma(int id, Thread waiter, MemorySegment readInto, long address, long count, ReadTransfer transfer) {
            this.id = id;
            this.key = id;
            this.waiter = waiter;
            this.readInto = readInto;
            this.heldReadInto = readInto != null && readInto.isNative() ? MessageReceiver.heldView(readInto) : null;
            this.address = address;
            this.count = count;
            this.transfer = transfer;
        }

        @Override
        public int prefixSize() {
            return PLACED_PREFIX;
        }

        @Override
        public MemorySegment target() {
            return readInto;
        }

        @Override
        public boolean matches(MemorySegment prefix) {
            return Header.msgId(prefix) == id && Header.command(prefix) == Command.DMA_READ.code() && Header.isReply(prefix)
                    && !Header.isError(prefix) && Header.messageSize(prefix) == PLACED_PREFIX + count
                    && DmaReadReply.headerIs(prefix, Header.SIZE, address, count);
        }

        @Override
        public boolean hold() {
            return transfer != null && transfer.hold(this);
        }

        @Override
        public void release() {
            transfer.release();
        }

        void complete(int errno) {
            this.errno = errno;
            done = true;
            if (transfer != null) {
                transfer.answered(this, errno);
            } else {
                LockSupport.unpark(waiter);
            }
        }
    }

    MessageDma(SessionTransport transport, ServerOptions options) {
        this.transport = transport;
        this.options = options;
        this.clientMaxDataXferSize = options.maxDataXferSize();
    }

    /** The thread that will read the replies: DMA from it would wait for itself. */
    void servedBy(Thread thread) {
        sessionThread = thread;
    }

    /** The client's max_data_xfer_size, from VERSION. */
    void clientMaxDataXferSize(long size) {
        clientMaxDataXferSize = size;
    }

    @Override
    public void read(long iova, MemorySegment dst) throws VfioException {
        checkDmaAllowed(Command.DMA_READ, iova);
        new ReadTransfer(iova, dst).run();
    }

    @Override
    public void write(long iova, MemorySegment src) throws VfioException {
        checkDmaAllowed(Command.DMA_WRITE, iova);
        writeTransfer(iova, src);
    }

    private void checkDmaAllowed(Command command, long iova) throws VfioException {
        if (closed) {
            throw new VfioException(Errno.ENODEV, "client disconnected");
        }
        if (Thread.currentThread() == sessionThread) {
            // The reply could only be read by this very thread: waiting would hang until the timeout.
            throw new VfioException(Errno.EDEADLK, "%s at 0x%x from the session thread: message-based DMA must be done from a device thread"
                    .formatted(command, iova));
        }
    }


    /**
     * Moves {@code buffer} to client memory at {@code iova} in DMA_WRITE requests of up to the
     * negotiated max_data_xfer_size, several in flight, each sent by the device thread straight
     * from {@code buffer}. The first error ends the transfer once the requests in flight are answered.
     */
    private void writeTransfer(long iova, MemorySegment buffer) throws VfioException {
        Command command = Command.DMA_WRITE;
        // Each request must fit what the client receives (and what we would send).
        long chunkMax = Math.max(1, Math.min(clientMaxDataXferSize, options.maxDataXferSize()));
        int window = WRITE_WINDOW;
        long size = buffer.byteSize();
        long timeout = options.dmaReplyTimeout().toNanos();
        PendingDma[] inFlight = new PendingDma[window]; // a ring, oldest at head
        int head = 0, count = 0;
        long issued = 0;
        VfioException failure = null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment request = arena.allocate(Header.SIZE + DmaWriteRequest.SIZE, 8);
            while (true) {
                while (failure == null && count < window && issued < size) {
                    long chunk = Math.min(chunkMax, size - issued);
                    try {
                        inFlight[(head + count) % window] = sendWrite(iova + issued, buffer.asSlice(issued, chunk), request);
                    } catch (VfioException e) {
                        failure = e;
                        break;
                    }
                    count++;
                    issued += chunk;
                }
                if (count == 0) {
                    break;
                }
                PendingDma oldest = inFlight[head];
                inFlight[head] = null;
                head = (head + 1) % window;
                count--;
                int errno = await(oldest, timeout);
                if (errno != 0 && failure == null) {
                    failure = errno == Errno.ETIMEDOUT
                            ? new VfioException(Errno.ETIMEDOUT, "%s at 0x%x: no reply within %s".formatted(command, oldest.address,
                                    options.dmaReplyTimeout()))
                            : errno == Errno.EINTR ? new VfioException(Errno.EINTR, command + " interrupted")
                            : new VfioException(errno, "%s at 0x%x +0x%x: %s".formatted(command, oldest.address, oldest.count,
                                    Errno.format(errno)));
                }
                if (errno == Errno.ETIMEDOUT || errno == Errno.EINTR) {
                    break; // the client does not answer (or we were told to stop): do not wait for the rest
                }
            }
        } finally {
            for (int i = 0; i < count; i++) { // given up on: their replies, should they come, are dropped
                PendingDma p = inFlight[(head + i) % window];
                forget(p);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * A device's DMA_READ of one buffer: the device thread sends the first {@link #READ_WINDOW}
     * requests, then the session thread, as it copies each reply's data into the buffer, sends the
     * next request itself. The device thread sleeps until the whole buffer is there (or the first
     * error), not once per chunk.
     */
    private final class ReadTransfer {
        private static final int REQUEST_SIZE = Header.SIZE + DmaReadRequest.SIZE;
        private final long iova;
        private final MemorySegment buffer;
        private final long chunkMax;
        private final Thread waiter = Thread.currentThread();
        /** The session thread's next request, written under this transfer's lock. */
        private final MemorySegment request = MemorySegment.ofArray(new byte[REQUEST_SIZE]);
        /** The device thread's opening requests: sent in one sendmsg, without the lock. */
        private final MemorySegment opening = MemorySegment.ofArray(new byte[READ_WINDOW * REQUEST_SIZE]);
        private final ArrayDeque<PendingDma> inFlight = new ArrayDeque<>(READ_WINDOW);
        // Guarded by this:
        private long issued;
        private VfioException failure;
        private boolean finished;
        private long lastAnswer = System.nanoTime();
        /** Receives writing into {@code buffer} now (the session thread's placements): the device must not free it meanwhile. */
        private int receiving;

        ReadTransfer(long iova, MemorySegment buffer) {
            this.iova = iova;
            this.buffer = buffer;
            this.chunkMax = Math.max(1, Math.min(DMA_MESSAGE_LIMIT, Math.min(clientMaxDataXferSize, options.maxDataXferSize())));
        }

        void run() throws VfioException {
            long timeout = options.dmaReplyTimeout().toNanos();
            try {
                open();
                while (true) {
                    synchronized (this) {
                        if (finished) {
                            break;
                        }
                        long left = lastAnswer + timeout - System.nanoTime();
                        if (left <= 0 || Thread.currentThread().isInterrupted()) {
                            PendingDma oldest = inFlight.peekFirst();
                            failure = left <= 0
                                    ? new VfioException(Errno.ETIMEDOUT, "DMA_READ at 0x%x: no reply within %s".formatted(
                                            oldest != null ? oldest.address : iova, options.dmaReplyTimeout()))
                                    : new VfioException(Errno.EINTR, "DMA_READ interrupted"); // the interrupt stays set
                            finished = true;
                            break;
                        }
                    }
                    LockSupport.parkNanos(this, Math.max(1, lastAnswerDeadline(timeout)));
                }
            } finally {
                synchronized (this) {
                    finished = true;
                    for (PendingDma p : inFlight) { // given up on: their replies, should they come, are dropped
                        forget(p);
                    }
                    inFlight.clear();
                    // The buffer is the device's again only when no receive writes into it (at most UnixSocketTransport.PLACED_RECEIVE_TIMEOUT).
                    boolean interrupted = false;
                    while (receiving > 0) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            interrupted = true;
                        }
                    }
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }

        /**
         * Registers the first window's requests and sends them in one sendmsg. Not under the lock:
         * on one CPU the send may hand the CPU to the client, whose reply the session thread then
         * handles, and that needs the lock.
         */
        private void open() {
            List<PendingDma> sent = new ArrayList<>(READ_WINDOW);
            long bytes = 0;
            synchronized (this) {
                while (failure == null && inFlight.size() < READ_WINDOW && issued < buffer.byteSize()) {
                    PendingDma p = register(opening.asSlice(bytes, REQUEST_SIZE));
                    if (p == null) {
                        break;
                    }
                    sent.add(p);
                    bytes += REQUEST_SIZE;
                }
                finishIfDone();
            }
            if (bytes == 0) {
                return;
            }
            VfioException failed = null;
            try {
                transport.send(opening.asSlice(0, bytes), List.of());
            } catch (LinuxException | RuntimeException e) {
                failed = new VfioException(Errno.ENODEV, "DMA_READ: " + e.getMessage(), e);
            }
            if (failed == null && !closed) {
                return;
            }
            synchronized (this) {
                for (PendingDma p : sent) {
                    // A request close() has not failed yet (it may have run just before ours were added).
                    if (forget(p)) {
                        inFlight.remove(p);
                    }
                }
                if (failure == null) {
                    failure = failed != null ? failed : new VfioException(Errno.ENODEV, "client disconnected");
                }
                finishIfDone();
            }
        }

        /** The session thread is about to receive {@code p}'s data into the buffer: allowed while the transfer waits for it. */
        synchronized boolean hold(PendingDma p) {
            if (finished || p.done || !inFlight.contains(p)) {
                return false;
            }
            receiving++;
            return true;
        }

        synchronized void release() {
            if (--receiving == 0) {
                notifyAll();
            }
        }

        private synchronized long lastAnswerDeadline(long timeout) {
            return lastAnswer + timeout - System.nanoTime();
        }

        /**
         * Takes the next chunk: a message id, an entry in {@code pending} and {@code inFlight}, and
         * its request written into {@code into}. With this held. Null (and {@code failure} set) when
         * it cannot.
         */
        private PendingDma register(MemorySegment into) {
            if (closed) {
                failure = new VfioException(Errno.ENODEV, "client disconnected");
                return null;
            }
            long chunk = Math.min(chunkMax, buffer.byteSize() - issued);
            long address = iova + issued;
            int id = nextId.getAndIncrement() & 0xffff;
            PendingDma p = new PendingDma(id, waiter, buffer.asSlice(issued, chunk), address, chunk, this);
            if (!enterPending(p)) {
                failure = new VfioException(Errno.EBUSY, "65536 DMA requests outstanding");
                return null;
            }
            inFlight.addLast(p);
            readOrder.add(p);
            issued += chunk;
            Header.writeCommand(into, id, Command.DMA_READ.code(), REQUEST_SIZE, false);
            DmaReadRequest.encode(into.asSlice(Header.SIZE), address, chunk);
            return p;
        }

        /** Sends the next chunk's request; with this held (by the session thread). A failure to send ends the transfer. */
        private void issueNext() {
            PendingDma p = register(request);
            if (p == null) {
                return;
            }
            try {
                transport.send(request, List.of());
            } catch (LinuxException | RuntimeException e) {
                inFlight.removeLast();
                forget(p);
                failure = new VfioException(Errno.ENODEV, "DMA_READ: " + e.getMessage(), e);
            }
            if (closed && forget(p)) {
                // close() may have failed the pending requests just before ours was added.
                inFlight.remove(p);
                if (failure == null) {
                    failure = new VfioException(Errno.ENODEV, "client disconnected");
                }
            }
        }

        /**
         * A chunk's reply was handled (its data copied): go on with the next chunk, or end. Session
         * thread (or close). The device thread is woken after the lock is let go: on one CPU it
         * would otherwise run at once and only spin on the lock.
         */
        void answered(PendingDma p, int errno) {
            synchronized (this) {
                if (finished || !inFlight.remove(p)) {
                    return;
                }
                lastAnswer = System.nanoTime();
                if (errno != 0 && failure == null) {
                    failure = new VfioException(errno, "DMA_READ at 0x%x +0x%x: %s".formatted(p.address, p.count, Errno.format(errno)));
                }
                if (failure == null && issued < buffer.byteSize()) {
                    issueNext();
                }
                if (!finishIfDone()) {
                    return;
                }
            }
            LockSupport.unpark(waiter);
        }

        /** With this held: ends the transfer when nothing is in flight and nothing more will be asked; true if it did. */
        private boolean finishIfDone() {
            if (!finished && inFlight.isEmpty() && (failure != null || issued == buffer.byteSize())) {
                finished = true;
                return true;
            }
            return false;
        }
    }

    /** Registers and sends one DMA_WRITE; {@code request} is the 32-byte buffer its header and address/count go in. */
    private PendingDma sendWrite(long address, MemorySegment data, MemorySegment request) throws VfioException {
        int id = nextId.getAndIncrement() & 0xffff;
        PendingDma p = new PendingDma(id, Thread.currentThread(), null, address, data.byteSize(), null);
        if (!enterPending(p)) {
            throw new VfioException(Errno.EBUSY, "65536 DMA requests outstanding");
        }
        try {
            if (closed) {
                // close() may have failed the pending requests just before ours was added.
                throw new VfioException(Errno.ENODEV, "client disconnected");
            }
            Header.writeCommand(request, id, Command.DMA_WRITE.code(), request.byteSize() + data.byteSize(), false);
            DmaWriteRequest.encodeHeader(request.asSlice(Header.SIZE), address, data.byteSize());
            transport.send(request, data);
            return p;
        } catch (LinuxException e) {
            forget(p);
            throw new VfioException(Errno.ENODEV, "DMA_WRITE: " + e.getMessage(), e);
        } catch (VfioException | RuntimeException e) {
            forget(p);
            throw e;
        }
    }

    /** Waits for {@code p}'s reply: its errno (0 for success), ETIMEDOUT, or EINTR when interrupted. */
    private static int await(PendingDma p, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        while (!p.done) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Errno.ETIMEDOUT;
            }
            LockSupport.parkNanos(p, left);
            if (Thread.currentThread().isInterrupted() && !p.done) {
                return Errno.EINTR; // the interrupt stays set for the caller
            }
        }
        return p.errno;
    }

    /**
     * A reply to one of our DMA requests ({@code msg}, its {@code payload}); {@code placed} when a
     * DMA_READ's data went straight into the device's buffer.
     */
    void complete(MemorySegment msg, MemorySegment payload, boolean placed) {
        int id = Header.msgId(msg);
        PendingDma p = take(id);
        if (p == null) {
            LOG.log(Level.WARNING, "reply %d matches no request of ours; ignored".formatted(id));
            return;
        }
        int errno = 0;
        try {
            if (Header.isError(msg)) {
                errno = Header.error(msg) != 0 ? Header.error(msg) : Errno.EIO;
            } else if (p.readInto != null) {
                long start = DmaReadReply.dataOffset(payload, p.address, p.count);
                if (payload.byteSize() - start != p.count) {
                    errno = Errno.EFAULT; // a short DMA read leaves the device with holes: fail it
                } else if (!placed) { // placed: the data went straight into p.readInto
                    copyReply(p, payload, start);
                }
            } else {
                if (DmaWriteReply.checkedCount(payload, p.address, p.count) != p.count) {
                    errno = Errno.EFAULT;
                }
            }
        } catch (ProtocolException e) {
            LOG.log(Level.WARNING, "bad DMA reply: " + e.getMessage());
            errno = e.errno();
        } catch (RuntimeException e) {
            // e.g. the device's buffer was freed after it gave up waiting: fail that request, keep the session.
            LOG.log(Level.WARNING, "DMA reply could not be delivered: " + e);
            errno = Errno.EIO;
        } finally {
            p.complete(errno);
        }
    }

    /** Enters {@code p} in {@link #pending} and {@link #recent}; false if its id is taken. */
    private boolean enterPending(PendingDma p) {
        boolean free = pending.putIfAbsent(p.key, p) == null;
        if (free) {
            recent.set(p.id & (RECENT_IDS - 1), p);
        }
        return free;
    }

    /** Removes {@code p} from {@link #pending} and {@link #recent}; whether it was still pending. */
    private boolean forget(PendingDma p) {
        recent.compareAndSet(p.id & (RECENT_IDS - 1), p, null); // the hint must not keep the device's buffer
        return pending.remove(p.key, p);
    }

    /** Removes and returns the request a reply with {@code id} answers, or null; found through {@link #recent}, nothing boxed. */
    private PendingDma take(int id) {
        PendingDma hint = recent.get(id & (RECENT_IDS - 1));
        if (hint != null && hint.id == id && forget(hint)) {
            return hint;
        }
        PendingDma p = pending.remove(id);
        if (p != null) {
            recent.compareAndSet(p.id & (RECENT_IDS - 1), p, null);
        }
        return p;
    }

    /**
     * Copies a DMA_READ reply's data into the device's buffer. Native memory (perhaps confined to
     * the device's thread, which waits in its read) is written only while the transfer holds it
     * alive, as a placed receive is: a device that gave up may have freed it.
     */
    private static void copyReply(PendingDma p, MemorySegment payload, long start) {
        if (!p.readInto.isNative()) {
            MemorySegment.copy(payload, start, p.readInto, 0, p.count);
        } else if (p.hold()) {
            try {
                MemorySegment.copy(payload, start, p.heldReadInto, 0, p.count);
            } finally {
                p.release();
            }
        }
    }


    /** The DMA_READ chunk whose reply should come next, or null; chunks answered or given up on are dropped. */
    MessageReceiver.Placement expectedRead() {
        PendingDma p;
        while ((p = readOrder.peek()) != null && (p.done || pending.get(p.key) != p)) {
            readOrder.poll(); // only this thread takes from the queue: the head is still p
        }
        return p;
    }

    /** The client is being disconnected: no new request is sent. */
    void disconnect() {
        closed = true;
    }

    /** Whether no DMA request waits for its reply (a live upgrade hands over only then). */
    boolean idle() {
        return pending.isEmpty();
    }

    /** The client went away: every request still waiting fails with ENODEV, and no new one is sent. */
    void close() {
        closed = true;
        for (PendingDma p : pending.values()) {
            p.complete(Errno.ENODEV);
        }
        pending.clear();
        for (int i = 0; i < RECENT_IDS; i++) {
            recent.set(i, null);
        }
    }
}
