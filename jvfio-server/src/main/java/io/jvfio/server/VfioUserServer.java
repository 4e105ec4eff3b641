package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.SocketInfo;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultControl;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultPlan;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.server.faults.Faults;
import io.jvfio.server.internal.ClientAcceptor;
import io.jvfio.server.handover.HandoverHost;
import io.jvfio.server.handover.HandoverOffer;
import io.jvfio.server.handover.TakeOver;
import io.jvfio.server.internal.HandoverPoint;
import io.jvfio.server.internal.Session;
import io.jvfio.server.internal.StallClock;
import io.jvfio.server.internal.StatsCounters;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Serves one device over vfio-user: listens on a UNIX socket, takes one client at a time (another
 * that connects meanwhile is closed at once), and when a client goes away drops its DMA windows
 * and eventfds, keeps the device's state, and waits for the next client. A client that stalls
 * and a device callback that hangs are bounded by the options' {@link Deadlines}.
 */
public final class VfioUserServer implements AutoCloseable {
    /** The logger, made on first use: finding the logging backend costs start-up some 20 ms. */
    private static final class Log {
        static final System.Logger LOG = System.getLogger(VfioUserServer.class.getName());
    }

    /** Null when serving one pre-connected socket; a successor's is set once, by {@link #takeOver}, before anyone else sees the server. */
    private UnixServerSocket listener;
    private final UnixSocket connected;
    private final VfioDevice device;   // as written
    private final VfioDevice served;   // as clients see it: with the platform's extensions
    private final ServerOptions options;
    private final StatsCounters counters = new StatsCounters();
    private final ServerStats stats = new ServerStats(counters);
    private final Faults faults;
    /** Injected stalls of this server's sessions; the registry's performer for a stall rule that fires at once. */
    private final StallClock stall = new StallClock();
    /** Logs every firing of the device's faults while this server lives. */
    private final Consumer<FaultFiring> firingLogger = this::logFiring;
    private final FaultVocabulary faultWords;
    private volatile FaultControl faultControl;
    private Optional<Path> path;   // set like listener
    private volatile boolean closed;
    private final Object closing = new Object();
    private volatile boolean serving;
    private volatile Session current;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong turnedAway = new AtomicLong();
    // Live upgrade (package io.jvfio.server.handover): the offer to successors, a hand-over waiting for a boundary, the outcome.
    private final Object sessionLock = new Object();
    private volatile HandoverOffer offer;
    /** Sessions keep their DMA windows' fds (a live upgrade is offered, or this server took one over and may offer the next). */
    private volatile boolean keepDmaFds;
    private HandoverPoint pendingHandover;   // guarded by sessionLock
    private volatile boolean handedOver;
    /** A successor's first session, taken over from the old server, and when that server had handled its last command (for the pause). */
    private Session takenOver;
    private volatile Session takenOverSession;
    private long predecessorLastHandledNanos;
    /** Wakes the acceptor's poll for a pause or a stop; made with the server so its fd is there from the start. */
    private EventFd acceptorWakeup;   // set like listener
    /** Accepts clients for serve(); null before serve() or when serving one pre-connected client. */
    private volatile ClientAcceptor acceptor;

    private VfioUserServer(UnixServerSocket listener, UnixSocket connected, VfioDevice device, ServerOptions options,
                           Platform platform, Optional<Path> path) {
        this.listener = listener;
        this.connected = connected;
        this.device = device;
        this.served = platform.apply(device);
        this.options = options;
        this.path = path;
        this.acceptorWakeup = listener == null ? null : newEventFd();
        this.faults = Objects.requireNonNullElseGet(device.faults(), Faults::new);
        faults.addPerformer(stall);
        this.faultWords = device.faultVocabulary();
        faults.addListener(firingLogger);
    }

    private static EventFd newEventFd() {
        try {
            return EventFd.create();
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot create the acceptor's wake-up eventfd: " + e.getMessage(), e);
        }
    }

    private void logFiring(FaultFiring firing) {
        Log.LOG.log(Level.INFO, "fault %s fired at %s: %s on %s".formatted(firing.ruleId(), firing.time(),
                FaultPlan.describe(firing.action(), faultWords), firing.matched()));
    }

    /**
     * Listens at {@code socketPath} with the options' file mode. A stale socket left by a dead
     * server is replaced; a live one, a symlink, or any other file there is refused.
     */
    public static VfioUserServer bind(Path socketPath, VfioDevice device, ServerOptions options) throws IOException {
        return bind(socketPath, device, options, Platform.none());
    }

    /** Like {@link #bind(Path, VfioDevice, ServerOptions)}, applying {@code platform}'s extensions to the device. */
    public static VfioUserServer bind(Path socketPath, VfioDevice device, ServerOptions options, Platform platform) throws IOException {
        UnixServerSocket listener = UnixServerSocket.bindReplacingStale(socketPath, options.socketMode(), 4);
        return new VfioUserServer(listener, null, device, options, platform, Optional.of(socketPath));
    }

    /**
     * Serves on an inherited fd (the backend-program convention {@code --fd N}, or a socket systemd
     * passed): a listening socket is served like {@link #bind}; a connected one serves that single
     * client. Anything but an AF_UNIX stream socket that listens or has a peer is refused (and closed)
     * with a LinuxException that says what the fd is.
     */
    public static VfioUserServer adopt(Fd fd, VfioDevice device, ServerOptions options, Platform platform) throws IOException {
        int number = fd.value();
        SocketInfo socket;
        try {
            socket = SocketInfo.of(fd);
        } catch (LinuxException e) {
            fd.close();
            throw e.errno() == Errno.ENOTSOCK ? new LinuxException("serve", "fd " + number + " is not a socket", Errno.ENOTSOCK) : e;
        }
        if (!socket.isUnixStream() || !(socket.listening() || socket.connected())) {
            fd.close();
            throw new LinuxException("serve", "fd " + number + " is " + (socket.isUnixStream()
                    ? "an AF_UNIX stream socket that neither listens nor is connected"
                    : "an " + socket.kind() + " socket; vfio-user needs AF_UNIX SOCK_STREAM"), Errno.EINVAL);
        }
        return socket.listening()
                ? new VfioUserServer(UnixServerSocket.adopt(fd), null, device, options, platform, Optional.empty())
                : new VfioUserServer(null, UnixSocket.adopt(fd), device, options, platform, Optional.empty());
    }

    public static VfioUserServer adopt(Fd fd, VfioDevice device, ServerOptions options) throws IOException {
        return adopt(fd, device, options, Platform.none());
    }

    public Optional<Path> socketPath() {
        return path;
    }

    public ServerStats stats() {
        return stats;
    }

    public VfioDevice device() {
        return device;
    }

    /** The faults injected into this server's device: rules to add from Java (tests of drivers), and their log. */
    public Faults faults() {
        return faults;
    }

    /**
     * Opens the fault control socket at {@code path} ({@code jvfio fault PATH …}: list, inject,
     * remove, clear rules, read the firing log), in the device's {@link VfioDevice#faultVocabulary()
     * words}; it lives as long as this server.
     *
     * @throws IllegalStateException if this server already has one or is closed
     */
    public FaultControl openFaultControl(Path path) throws IOException {
        synchronized (closing) {
            if (closed || faultControl != null) {
                throw new IllegalStateException(closed ? "server is closed" : "fault control is already open at " + faultControl.path());
            }
            faultControl = FaultControl.open(path, faults, faultWords);
            return faultControl;
        }
    }


    /**
     * Takes over from the server that offers a live upgrade on {@code control} ({@link #offerHandover}):
     * its listening socket, its client with the client's DMA windows and interrupts, and its device's
     * state, loaded into {@code device} — which must be the same device built the same way (else an
     * IOException names the difference, and the old server serves on). The device is loaded stopped
     * and started only once the old server has committed (given it up for good); when this returns
     * it runs and the old server exits; {@link #serve()} goes on with the same client.
     */
    public static VfioUserServer takeOver(Path control, VfioDevice device, ServerOptions options, Platform platform)
            throws IOException {
        // Built before the old server stops its device for us: nothing of it depends on the state that comes.
        VfioUserServer server = new VfioUserServer(null, null, device, options, platform, Optional.empty());
        server.keepDmaFds = true;
        server.acceptorWakeup = newEventFd();
        TakeOver connected;
        try {
            connected = TakeOver.connect(control, device, server.served, options);
        } catch (IOException | RuntimeException e) {
            server.acceptorWakeup.close();
            throw e;
        }
        try (TakeOver takeOver = connected) {
            Session[] resumed = new Session[1];
            try {
                server.listener = takeOver.listener().orElse(null);
                server.path = takeOver.socketPath();
                takeOver.checkDevice();
                resumed[0] = takeOver.resume(device, server.served, server::newSession).orElse(null);
                takeOver.commit();
                server.takenOver = resumed[0];
                server.takenOverSession = resumed[0];
                server.predecessorLastHandledNanos = takeOver.predecessorLastHandledNanos();
                return server;
            } catch (IOException | RuntimeException e) {
                server.acceptorWakeup.close(); // the half-built server never serves
                if (resumed[0] != null) { // no COMMIT: the old server serves on (or, if it died or committed and this device failed, none does)
                    resumed[0].keepConnectionOnClose();
                    resumed[0].close();
                }
                takeOver.refuse(e);
                throw e;
            }
        }
    }

    public static VfioUserServer takeOver(Path control, VfioDevice device, ServerOptions options) throws IOException {
        return takeOver(control, device, options, Platform.none());
    }

    /**
     * Offers a live upgrade: listens on {@code control} for a successor ({@link #takeOver}); when one
     * has taken over, {@link #serve()} returns, leaving the sockets to it.
     */
    public void offerHandover(Path control) throws IOException {
        keepDmaFds = true;
        offer = HandoverOffer.listen(control, new Host());
        DeviceMigration migration = served.migration().orElse(null);
        if (migration != null && !serving && takenOver == null) {
            // No client yet, so nothing races the save: the device's first save runs now, not while it is stopped.
            // (A successor's device rehearsed before its HELLO and may already serve a client's rings.)
            try {
                migration.rehearse(false);
            } catch (VfioException e) {
                Log.LOG.log(Level.WARNING, "the device could not save its state (a hand-over will tell): " + e.getMessage());
            }
        }
    }

    /** Whether a successor took over (this server then serves no more). */
    public boolean handedOver() {
        return handedOver;
    }

    /**
     * For a server that took over a client, once it has handled a command: from the old server's
     * last command handled (replied to, or done if posted) to this one's first — what the client
     * saw of the upgrade.
     */
    public OptionalLong handoverPauseNanos() {
        Session s = takenOverSession;
        long first = s == null ? 0 : s.firstHandledNanos();
        return first == 0 || predecessorLastHandledNanos == 0 ? OptionalLong.empty() : OptionalLong.of(first - predecessorLastHandledNanos);
    }

    /** Serves clients one after another until {@link #close()} (or a successor takes over). */
    public void serve() throws IOException {
        serving = true;
        try {
            if (takenOver != null) {
                Session session = takenOver;
                takenOver = null;
                serveSession(session);
                if (listener == null) {
                    return; // the old server served one pre-connected client
                }
            }
            if (connected != null) {
                runSession(connected);
                return;
            }
            // Accepting on a thread of its own answers a client that comes while another is served at once.
            acceptor = new ClientAcceptor(listener, acceptorWakeup, "jvfio-" + device.name() + "-accept", turnedAway);
            while (!closed && !handedOver) {
                UnixSocket client;
                try {
                    if (handedOverBetweenClients()) {
                        break;
                    }
                    client = acceptor.take();
                } catch (LinuxException e) {
                    if (closed) {
                        return;
                    }
                    throw e;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (client == null) {
                    if (acceptor.isStopped()) {
                        return;
                    }
                    continue; // woken: a hand-over may be waiting
                }
                runSession(client);
            }
        } finally {
            ClientAcceptor accepting = acceptor;
            if (accepting != null) {
                try {
                    accepting.stop();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (handedOver && listener != null) {
                listener.release(); // the successor listens on it now
            }
            stopped.countDown();
        }
    }

    /**
     * Carries out a hand-over a successor asked for while no client was served (the serve thread is
     * woken for it); whether this server has handed over.
     */
    private boolean handedOverBetweenClients() {
        HandoverPoint point;
        synchronized (sessionLock) {
            point = pendingHandover;
            pendingHandover = null;
        }
        if (point != null && point.handOver(null)) {
            handedOver = true;
        }
        return handedOver;
    }

    /** Serves on a new daemon thread named after the device. */
    public Thread start() {
        serving = true; // before the thread exists, so close() right after start() still waits for it
        Thread t = Thread.ofPlatform().name("jvfio-" + device.name()).daemon().unstarted(() -> {
            try {
                serve();
            } catch (IOException e) {
                if (!closed) {
                    Log.LOG.log(Level.ERROR, "server stopped: " + e.getMessage(), e);
                }
            }
        });
        t.start();
        return t;
    }

    private void runSession(UnixSocket client) {
        counters.countConnection();
        if (!admitted(client)) {
            refused.incrementAndGet();
            client.close();
            return;
        }
        Session session;
        try {
            session = newSession(client);
        } catch (RuntimeException e) {
            Log.LOG.log(Level.ERROR, "session failed", e);
            client.close();
            return;
        }
        serveSession(session);
    }

    private Session newSession(UnixSocket client) {
        Session session = new Session(client, served, options, counters, faults, stall);
        if (keepDmaFds) {
            session.readyForHandover();
        }
        return session;
    }

    private void serveSession(Session session) {
        try (session) {
            synchronized (sessionLock) {
                current = session;
                if (pendingHandover != null) {
                    session.requestHandover(pendingHandover);
                    pendingHandover = null;
                }
            }
            session.run();
            handedOver = session.handedOver();
        } catch (RuntimeException | InternalError e) {
            // One session's failure must never end serve(): log it and take the next client. InternalError is
            // how HotSpot reports a SIGBUS in a memory access: a client that truncated the file behind a DMA
            // window while the device read it on the session thread.
            Log.LOG.log(Level.ERROR, "session failed", e);
        } finally {
            synchronized (sessionLock) {
                current = null;
                HandoverPoint unreached = session.withdrawHandover();
                if (unreached != null && pendingHandover == null) {
                    pendingHandover = unreached; // the client left first: hand over between clients
                }
            }
        }
    }

    /** What the hand-over package sees of this server. */
    private final class Host implements HandoverHost {
        @Override
        public VfioDevice device() {
            return device;
        }

        @Override
        public VfioDevice served() {
            return served;
        }

        @Override
        public ServerOptions options() {
            return options;
        }

        @Override
        public Optional<UnixServerSocket> listener() {
            return Optional.ofNullable(listener);
        }

        @Override
        public Optional<Path> socketPath() {
            return path;
        }

        @Override
        public void requestHandover(HandoverPoint point) {
            synchronized (sessionLock) {
                if (current != null) {
                    current.requestHandover(point);
                    return;
                }
                pendingHandover = point;
            }
            ClientAcceptor accepting = acceptor;
            if (accepting != null) {
                accepting.wake(); // the serve thread waits for a client: let it hand over now
            }
        }

        @Override
        public void pauseAccepting() throws InterruptedException {
            ClientAcceptor accepting = acceptor;
            if (accepting != null) {
                accepting.pause();
            }
        }

        @Override
        public void resumeAccepting() {
            ClientAcceptor accepting = acceptor;
            if (accepting != null) {
                accepting.resume();
            }
        }
    }

    /**
     * Checks the peer against the options' {@link AccessPolicy} before anything of theirs is read; a
     * peer whose credentials cannot be read is refused too.
     */
    private boolean admitted(UnixSocket client) {
        PeerCredentials peer;
        try {
            peer = client.peerCredentials();
        } catch (LinuxException e) {
            Log.LOG.log(Level.WARNING, "refused a client whose credentials cannot be read: " + e.getMessage());
            return false;
        }
        boolean ok;
        try {
            ok = options.accessPolicy().permits(peer);
        } catch (RuntimeException e) {
            Log.LOG.log(Level.ERROR, "access policy failed; refusing the client", e);
            return false;
        }
        if (!ok) {
            Log.LOG.log(Level.WARNING, "refused client pid %d uid %d gid %d groups %s: not allowed by the access policy (%s)"
                    .formatted(peer.pid(), peer.uid(), peer.gid(), new TreeSet<>(peer.groups()), options.accessPolicy()));
        }
        return ok;
    }

    /** Connections refused by the access policy since the server started. */
    public long refusedConnections() {
        return refused.get();
    }

    /** Connections closed at once because another client was being served. */
    public long turnedAwayConnections() {
        return turnedAway.get();
    }

    /** Whether a client is connected now. */
    public boolean hasClient() {
        return current != null;
    }

    /**
     * Asks the connected client to release the device (the REQ interrupt), as before a graceful
     * shutdown; returns false if no client is connected or it did not wire the REQ interrupt.
     */
    public boolean requestRelease() {
        if (current == null || !(device instanceof PciDevice pci) || !pci.interrupts().isWired(Vfio.PCI_REQ_IRQ_INDEX, 0)) {
            return false;
        }
        pci.interrupts().trigger(Vfio.PCI_REQ_IRQ_INDEX, 0);
        return true;
    }

    /**
     * Stops listening, disconnects the client, and removes the socket file. A second call (a
     * shutdown hook racing the main thread) returns only when the first has finished.
     */
    @Override
    public void close() {
        synchronized (closing) {
            if (closed) {
                return;   // the first close held the lock until it was done
            }
            closed = true;
            shutDown();
        }
    }

    private void shutDown() {
        faults.removePerformer(stall);
        stall.end();
        if (faultControl != null) {
            faultControl.close();
        }
        faults.removeListener(firingLogger);
        HandoverOffer o = offer;
        if (o != null) {
            o.close();
        }
        boolean ours = !handedOver; // else the sockets and the socket file are the successor's now
        if (ours && listener != null) {
            listener.close();
        }
        Session s = current;
        if (ours && s != null) {
            s.disconnect();
        }
        if (ours && connected != null) {
            connected.shutdown();
        }
        if (serving) {
            try {
                stopped.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (acceptorWakeup != null && (!serving || stopped.getCount() == 0)) {
            acceptorWakeup.close(); // the acceptor has ended (or never ran)
        }
        path.filter(p -> !handedOver).ifPresent(p -> {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                Log.LOG.log(Level.WARNING, "could not remove " + p + ": " + e.getMessage());
            }
        });
    }
}
