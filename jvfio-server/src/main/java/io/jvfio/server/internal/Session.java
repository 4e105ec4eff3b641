package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.SliceCache;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.server.Deadlines;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.server.DeviceMigration;
import io.jvfio.server.DmaWindow;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.Faults;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * One client connection — the loop: reads messages in order from its {@link SessionTransport},
 * hands commands to the {@link CommandHandlers} and sends their replies, and hands replies to the
 * device's DMA requests to {@link MessageDma}.
 *
 * <p>The session thread only reads and dispatches. A device thread that sends a DMA request
 * blocks on its own reply while the session thread goes on serving the client's commands and
 * routes the reply back by message id — so a client that answers DMA requests only after its own
 * command completes (QEMU) never deadlocks against us.
 */
public final class Session implements CommandHandlers.OffSessionThread, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Session.class.getName());
    /** How often the wait for an off-thread device call looks at it between messages: its latency is added to each such command. */
    private static final int POLL_MILLIS = 1;
    /**
     * The longest wait for an idle client's input once a live upgrade may be asked for: a request
     * cannot wake the wait, so it is seen within this (as within a timed receive's timeout).
     */
    private static final int HANDOVER_IDLE_WAIT_MILLIS = (int) UnixSocketTransport.PLACED_RECEIVE_TIMEOUT.toMillis();

    private final SessionTransport transport;
    /** The connection under {@link #transport}; null for a transport of another kind (tests). */
    private final UnixSocket socket;
    private final VfioDevice device;
    private final StatsCounters stats;
    /** The reply buffer: a shared memfd mapping, so only the pages replies touch become resident. */
    private final Mapping outMapping;
    private final MemorySegment out;
    // Views of the message and the reply the hot path reuses (slices handed to the transport or the device would otherwise be allocated).
    private final SliceCache inPayload = new SliceCache(Header.SIZE);
    private final MemorySegment outPayload;
    private final SliceCache outMessage;
    private final DmaSpace dma;
    private final MessageDma messageDma;
    private final CommandHandlers handlers;
    private final Deadlines deadlineOptions;
    private final ReadDeadlines deadlines;
    /** The watchdog's view of the command being handled; null when no bound is set. */
    private CallbackClock clock;
    /** An injected stall: while it lasts, no message is handled. */
    private final StallClock stall;
    /** The fds of the message being handled; what no handler took is closed after it. */
    private final List<Fd> fds = new ArrayList<>();
    /** Commands that arrived while a device call was served off this thread: handled next, in order. */
    private final ArrayDeque<Deferred> deferred = new ArrayDeque<>();
    /** The message being handled: a view of the receive buffer, or a copy of one set aside earlier. */
    private MemorySegment msg;
    /** The client closed while commands were being set aside: nothing more will come. */
    private boolean endOfInput;
    private volatile boolean closed;
    /** Whether a live upgrade may be asked for ({@link #readyForHandover}): no wait for input is unbounded then. */
    private boolean handoverReady;
    /** A live upgrade asked for (see {@link #requestHandover}); taken at the next message boundary. */
    private volatile HandoverPoint handover;
    /** The client was handed to a successor: closing must leave the connection up. */
    private volatile boolean handedOver;
    /**
     * System.nanoTime() when the first and the last command had been handled (replied to, or done if
     * posted; 0: none yet): the pause a live upgrade costs the client runs from the old session's last to the new one's first.
     */
    private volatile long firstHandledNanos, lastHandledNanos;

    private record Deferred(byte[] message, List<Fd> fds) {}

    public Session(UnixSocket socket, VfioDevice device, ServerOptions options, StatsCounters stats) {
        this(socket, device, options, stats, new Faults());
    }

    /** A session whose region accesses ask {@code faults} first. */
    public Session(UnixSocket socket, VfioDevice device, ServerOptions options, StatsCounters stats, Faults faults) {
        this(socket, device, options, stats, faults, new StallClock());
    }

    /**
     * A session whose region accesses and DMA ask {@code faults} first, and which handles no message
     * while {@code stall} says the device is stalled.
     */
    public Session(UnixSocket socket, VfioDevice device, ServerOptions options, StatsCounters stats, Faults faults,
                   StallClock stall) {
        this(new UnixSocketTransport(socket, options.maxMessageSize(), options.maxMsgFds()), socket, device, options, stats,
                faults, stall);
    }

    Session(SessionTransport transport, VfioDevice device, ServerOptions options, StatsCounters stats, Faults faults,
            StallClock stall) {
        this(transport, null, device, options, stats, faults, stall);
    }

    private Session(SessionTransport transport, UnixSocket socket, VfioDevice device, ServerOptions options,
                    StatsCounters stats, Faults faults, StallClock stall) {
        this.transport = transport;
        this.socket = socket;
        this.stall = stall;
        this.device = device;
        this.stats = stats;
        this.outMapping = UnixSocketTransport.buffer("jvfio-session-out", options.maxMessageSize());
        this.out = outMapping.segment();
        this.outPayload = out.asSlice(Header.SIZE);
        this.outMessage = new SliceCache(out, 0);
        this.dma = new DmaSpace(options.maxDmaWindows(), faults);
        this.messageDma = new MessageDma(transport, options);
        this.handlers = new CommandHandlers(device, options, stats, dma, messageDma, this, this::peerOrUnknown, faults, stall);
        this.deadlineOptions = options.deadlines();
        this.deadlines = new ReadDeadlines(deadlineOptions);
    }

    /** Serves until the client disconnects or sends something that cannot be framed. */
    public void run() {
        messageDma.servedBy(Thread.currentThread());
        if (!deadlineOptions.stuckCallback().isZero()) {
            clock = new CallbackClock(device.name(), deadlineOptions, transport, Thread.currentThread());
            CallbackWatchdog.watch(clock);
        }
        try {
            PeerCredentials peer = transport.peer();
            LOG.log(Level.DEBUG, "client pid %d uid %d connected".formatted(peer.pid(), peer.uid()));
            while (!closed && nextMessage()) {
                stall.awaitEnd();
                if (Header.isReply(msg)) {
                    messageDma.complete(msg, payload(), transport.placed());
                } else {
                    dispatch();
                    noteHandled();
                }
                closeUnclaimedFds();
            }
        } catch (EOFException e) {
            LOG.log(Level.INFO, "client left in the middle of a message");
        } catch (ReadDeadlines.StalledClientException e) {
            stats.countError();
            PeerCredentials peer = peerOrUnknown();
            LOG.log(Level.WARNING, "disconnecting client pid %d uid %d: %s".formatted(peer.pid(), peer.uid(), e.getMessage()));
        } catch (ProtocolException e) {
            stats.countError();
            LOG.log(Level.WARNING, "disconnecting client: " + e.getMessage());
        } catch (IOException e) {
            if (!closed) {
                LOG.log(Level.WARNING, "disconnecting client: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            // A bug must cost this client its connection, not the server its accept loop.
            stats.countError();
            LOG.log(Level.ERROR, "disconnecting client after an internal error", e);
        } finally {
            closeUnclaimedFds();
            for (Deferred d : deferred) {
                d.fds().forEach(Fd::close);
            }
            deferred.clear();
        }
    }

    /** The next message into {@code msg}: one set aside earlier, else one from the transport. */
    private boolean nextMessage() throws IOException, ProtocolException {
        return takeDeferred() || !endOfInput && readMessage();
    }

    /** The oldest command set aside into {@code msg}; false if there is none. */
    private boolean takeDeferred() {
        Deferred d = deferred.poll();
        if (d == null) {
            return false;
        }
        msg = MemorySegment.ofArray(d.message());
        fds.addAll(d.fds());
        return true;
    }

    /**
     * Runs {@code call} on a helper thread while this thread goes on reading: replies to the
     * device's DMA requests are completed, commands are set aside for after. A device stopping for
     * a migration finishes DMA in flight, and DMA to windows without an fd needs this thread to
     * read the client's replies. The current command was decoded already, so the receive buffer is free.
     */
    @Override
    public <T> T run(CommandHandlers.DeviceCall<T> call) throws VfioException, IOException, ProtocolException {
        CompletableFuture<T> done = new CompletableFuture<>();
        Thread helper = Thread.ofPlatform().daemon().name("jvfio-" + device.name() + "-call").start(() -> {
            try {
                done.complete(call.run());
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        if (clock != null) {
            clock.runningOn(helper);
        }
        try {
            return awaitOffThread(done);
        } finally {
            if (clock != null) {
                clock.runningOn(null);
            }
        }
    }

    /** Reads while {@code done} is not: replies are completed, commands set aside for after. */
    private <T> T awaitOffThread(CompletableFuture<T> done) throws VfioException, IOException, ProtocolException {
        while (!done.isDone() && !endOfInput && !closed) {
            int r = transport.receive(fds, MessageReceiver.Wait.BUFFERED, null);
            if (r == SessionTransport.NOTHING) {
                if (!transport.awaitInput(POLL_MILLIS)) {
                    continue;
                }
                r = transport.receive(fds, MessageReceiver.Wait.DONT_WAIT, messageDma.expectedRead());
            }
            if (r == SessionTransport.NOTHING) {
                continue; // part of a message: the rest comes later
            }
            if (r == SessionTransport.END) {
                endOfInput = true;
                continue;
            }
            msg = transport.message();
            if (Header.isReply(msg)) {
                messageDma.complete(msg, payload(), transport.placed());
            } else {
                deferred.add(new Deferred(msg.toArray(ValueLayout.JAVA_BYTE), List.copyOf(fds)));
                fds.clear();
            }
        }
        try {
            return done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VfioException(Errno.EINTR, "interrupted while the device worked");
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case VfioException v -> throw v;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new VfioException(Errno.EIO, e.getCause().toString(), e.getCause());
            }
        }
    }

    /**
     * Reads one whole message into {@code msg} (usually one recvmsg); false at a clean end of the
     * connection, or once the client was handed to a successor.
     */
    private boolean readMessage() throws IOException, ProtocolException {
        while (true) {
            if (handover != null && handOverAtBoundary()) {
                return false;
            }
            if (takeDeferred()) {
                return true; // commands that came while the device was stopped for a hand-over that did not happen
            }
            MessageReceiver.Placement expected = messageDma.expectedRead();
            int r = transport.receive(fds, receiveWait(), expected);
            if (r == SessionTransport.END) {
                return false;
            }
            if (r == SessionTransport.MESSAGE) {
                msg = transport.message();
                if (deadlines.enabled()) {
                    deadlines.messageReceived(handlers.negotiated());
                }
                return true;
            }
            if (deadlines.enabled()) {
                deadlines.check(transport, handlers.negotiated(), expected != null ? 0 : handoverReady ? HANDOVER_IDLE_WAIT_MILLIS : -1);
            }
        }
    }

    /**
     * With deadlines, receives return after each piece of a message, so a deadline is checked however
     * slowly a client trickles the rest (a whole message still comes in one recvmsg).
     */
    private MessageReceiver.Wait receiveWait() {
        if (deadlines.enabled()) {
            return MessageReceiver.Wait.TIMED_STEP;
        }
        // Bounded: while a DMA_READ is under way a receive may place its reply, and an idle client must
        // not keep a live upgrade from its message boundary.
        return MessageReceiver.Wait.TIMED;
    }

    private MemorySegment payload() {
        return inPayload.of(msg, Header.messageSize(msg) - Header.SIZE);
    }

    private void dispatch() throws IOException {
        int id = Header.msgId(msg);
        int code = Header.command(msg);
        boolean noReply = Header.isNoReply(msg);
        Command command = Command.orNull(code);
        long replyPayload;
        if (clock != null) {
            clock.started(id, code, noReply);
        }
        try {
            if (command == null) {
                throw new ProtocolException(Errno.ENOSYS, "unknown command " + code);
            }
            replyPayload = handlers.handle(command, payload(), outPayload, fds);
        } catch (ProtocolException e) {
            failUnlessAnswered(id, code, noReply, e.errno(), e.getMessage());
            return;
        } catch (VfioException e) {
            failUnlessAnswered(id, code, noReply, e.errno(), e.getMessage());
            return;
        } catch (RuntimeException e) {
            // A device bug must not take the session down: the client gets EIO, the log the details.
            LOG.log(Level.ERROR, "device failed on " + command, e);
            failUnlessAnswered(id, code, noReply, Errno.EIO, e.toString());
            return;
        } catch (IOException e) {
            if (clock != null) {
                clock.finished();
            }
            throw e;
        }
        if (clock != null && !clock.finished()) {
            dropLateResult(code);
            return;
        }
        closeUnclaimedFds(); // before the reply: a client that sees the answer sees its fds released
        List<Fd> replyFds = handlers.replyFds();
        if (!noReply) {
            Header.writeReply(out, id, code, Header.SIZE + replyPayload);
            transport.send(outMessage.of(Header.SIZE + replyPayload), replyFds);
        }
        replyFds.clear();
    }

    private void failUnlessAnswered(int id, int code, boolean noReply, int errno, String why) throws IOException {
        if (clock != null && !clock.finished()) {
            dropLateResult(code);
        } else {
            fail(id, code, noReply, errno, why);
        }
    }

    /**
     * The watchdog answered the command ETIMEDOUT while the device was stuck in it; now it returned:
     * its result is dropped, and the client disconnected if it was told of a failure that changes
     * what it believes ({@link CallbackClock#harmlessWhenLate}).
     */
    private void dropLateResult(int code) throws IOException {
        stats.countError();
        handlers.replyFds().clear();
        closeUnclaimedFds();
        if (!CallbackClock.harmlessWhenLate(code)) {
            Command command = Command.orNull(code);
            throw new IOException((command != null ? command : "command " + code) + " completed after the client was told "
                    + "it timed out: the client and the server no longer agree on its effect");
        }
    }

    private void noteHandled() {
        long now = System.nanoTime();
        if (firstHandledNanos == 0) {
            firstHandledNanos = now;
        }
        lastHandledNanos = now;
    }

    private void fail(int id, int code, boolean noReply, int errno, String why) throws IOException {
        stats.countError();
        handlers.replyFds().clear();
        closeUnclaimedFds(); // a refused message's fds are closed before the client hears of it
        LOG.log(Level.DEBUG, "command %d failed: %s".formatted(code, why));
        if (!noReply) {
            Header.writeErrorReply(out, id, code, errno);
            transport.send(outMessage.of(Header.SIZE), List.of());
        }
    }

    private void closeUnclaimedFds() {
        for (int i = 0; i < fds.size(); i++) {
            fds.get(i).close();
        }
        fds.clear();
    }

    private PeerCredentials peerOrUnknown() {
        try {
            return transport.peer();
        } catch (LinuxException e) {
            return new PeerCredentials(0, -1, -1);
        }
    }

    // ------------------------------------------------------------ live upgrade

    /**
     * Asks the session thread to call {@code point} at its next message boundary (within the
     * socket's receive timeout when the client is idle). The request is taken once; a point that
     * wants another try asks again.
     */
    public void requestHandover(HandoverPoint point) {
        handover = point;
    }

    /**
     * Prepares for a live upgrade, before {@link #run()}: DMA windows mapped from now on keep their
     * fds, and waits for an idle client's input are bounded, so a request is seen soon.
     */
    public void readyForHandover() {
        dma.keepFds();
        handoverReady = true;
    }

    /** Takes back a hand-over request the session did not reach (the client left first); null if none. */
    public HandoverPoint withdrawHandover() {
        HandoverPoint point = handover;
        handover = null;
        return point;
    }

    /**
     * Whether a successor can take the client now: between messages, no DMA request waits for its
     * reply, and what was read and not handled (commands set aside, bytes received beyond the last
     * message) can cross as bytes, carrying no fds. Under steady traffic there is often such input:
     * waiting for none could wait for ever.
     */
    private boolean canHandOver() {
        return !endOfInput && messageDma.idle() && deferred.stream().allMatch(d -> d.fds().isEmpty())
                && transport.unreturnedInput() != null;
    }

    private boolean handOverAtBoundary() {
        if (!canHandOver()) {
            return false;
        }
        HandoverPoint point = handover;
        handover = null;
        if (point != null && point.handOver(this)) {
            handedOver = true;
            return true;
        }
        return false;
    }

    /**
     * Stops the device for a live upgrade and saves its state (the migration's STOP_COPY, for a
     * successor on this host: {@link DeviceMigration#stopCopyForSuccessor}), serving
     * DMA replies meanwhile, as a migration transition does; commands that come meanwhile are set
     * aside for the successor ({@link #snapshot()}). False only if the session can no longer be
     * handed over (the client left, or sent fds meanwhile): the device runs again, the commands are
     * handled next, and the caller may try again.
     */
    public boolean stopAtBoundary(DeviceMigration migration) throws VfioException, IOException, ProtocolException {
        if (dma.windows().stream().allMatch(DmaWindow::mapped)) {
            // No DMA travels by message, so this thread need not read while the device stops: the
            // client's next command waits in the socket rather than spoiling the boundary.
            migration.stopCopyForSuccessor();
            return true;
        }
        run(() -> {
            migration.stopCopyForSuccessor();
            return null;
        });
        if (canHandOver()) {
            return true;
        }
        migration.transition(MigrationState.RUNNING);
        return false;
    }

    /** What a successor needs of this session (the caller owns the window fds); call where it {@link #canHandOver}. */
    public SessionSnapshot snapshot() throws LinuxException {
        if (socket == null) {
            throw new IllegalStateException("a session over another transport cannot be handed over");
        }
        return new SessionSnapshot(socket, handlers.clientCapabilities(), dma.export(), unhandledInput(), lastHandledNanos);
    }

    /** The client's bytes read and not handled, in the order they came: the commands set aside, then what the receiver holds. */
    private byte[] unhandledInput() {
        MemorySegment unreturned = transport.unreturnedInput();
        if (unreturned == null) {
            throw new IllegalStateException("the unhandled input carries fds: no hand-over here");
        }
        int setAside = 0;
        for (Deferred d : deferred) {
            setAside += d.message().length;
        }
        byte[] bytes = new byte[Math.toIntExact(setAside + unreturned.byteSize())];
        int at = 0;
        for (Deferred d : deferred) {
            System.arraycopy(d.message(), 0, bytes, at, d.message().length);
            at += d.message().length;
        }
        MemorySegment.copy(unreturned, ValueLayout.JAVA_BYTE, 0, bytes, at, (int) unreturned.byteSize());
        return bytes;
    }

    /**
     * A successor's side: this new session takes over a negotiated client with its DMA windows
     * (their fds are taken, and closed on failure), before {@link #run()}; it handles
     * {@code unhandledInput} (the predecessor's {@link SessionSnapshot#unhandledInput()}) before reading the connection.
     */
    public void resume(VersionCapabilities clientCapabilities, List<DmaSpace.ExportedWindow> windows, byte[] unhandledInput)
            throws VfioException {
        int mapped = 0;
        try {
            handlers.resumeNegotiated(clientCapabilities);
            transport.preload(MemorySegment.ofArray(unhandledInput));
            for (DmaSpace.ExportedWindow w : windows) {
                mapped++;
                dma.map(w.iova(), w.size(), w.access(), w.fd(), w.fileOffset());
            }
        } finally {
            for (int i = mapped; i < windows.size(); i++) {
                if (windows.get(i).fd() != null) {
                    windows.get(i).fd().close();
                }
            }
        }
    }

    /** A successor that gives up before serving: closing this session must leave the connection to the old server. */
    public void keepConnectionOnClose() {
        handedOver = true;
    }

    /** System.nanoTime() when this session had handled its first command; 0 before. */
    public long firstHandledNanos() {
        return firstHandledNanos;
    }

    /** Whether the client was handed to a successor. */
    public boolean handedOver() {
        return handedOver;
    }

    /** Ends the session from another thread: the session thread wakes up and cleans up. */
    public void disconnect() {
        closed = true;
        messageDma.disconnect();
        transport.shutdown();
    }

    @Override
    public void close() {
        closed = true;
        if (clock != null) {
            CallbackWatchdog.unwatch(clock);
        }
        messageDma.close();
        dma.attach(null);
        dma.unmapAll();
        if (handlers.negotiated()) {
            device.close();
        }
        if (handedOver) {
            transport.release();
        } else {
            transport.close();
        }
        outMapping.close();
    }
}
