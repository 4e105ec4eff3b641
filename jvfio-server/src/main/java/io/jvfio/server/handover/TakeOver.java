package io.jvfio.server.handover;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.MigrationState;
import io.jvfio.server.DeviceMigration;
import io.jvfio.server.PciDevice;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioException;
import io.jvfio.server.internal.Session;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The successor's side of a live upgrade: connects to the running server's control socket,
 * receives its state ({@link HandoverState}), checks that this process serves the same device,
 * rebuilds the session (negotiated capabilities, DMA windows, interrupt eventfds) and loads the
 * device's state, leaving the device stopped ({@link #resume}). Then {@link #commit}: it says
 * LOADED and waits for the old server's COMMIT, after which the old server never runs the device
 * again; only then does this one start the device (and its session read the client). Until the
 * COMMIT the old server owns the device: a failure here is told to it (it serves on), a death of
 * either side leaves this one's device stopped, and the sockets stay up for the old server.
 */
public final class TakeOver implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(TakeOver.class.getName());
    private final HandoverWire wire;
    private final HandoverState state;
    /** {@link DeviceIdentity} of this process's device, for {@link #checkDevice}. */
    private final String identity;
    private UnixServerSocket listener;
    /** Whether {@link #resume} took the client's fds (it closes them itself if it fails). */
    private boolean resumeTried;
    /** The loaded device, stopped until the old server commits; null before {@link #resume}. */
    private DeviceMigration loaded;
    /** Where {@link #resume}'s time went, logged by {@link #commit} once the device runs. */
    private Supplier<String> resumeReport;

    /** System.nanoTime() when the state had arrived, for the log of where the pause goes. */
    private final long received;

    private TakeOver(HandoverWire wire, HandoverState state, String identity) {
        this.wire = wire;
        this.state = state;
        this.identity = identity;
        this.received = System.nanoTime();
    }

    /**
     * Connects to the running server at {@code controlPath} and receives its state (the server stops
     * its device for it), for {@code written} served as {@code served} with {@code options}: what the
     * state is checked against ({@link #checkDevice}) is worked out before.
     */
    public static TakeOver connect(Path controlPath, VfioDevice written, VfioDevice served, ServerOptions options) throws IOException {
        WarmUp.run(); // before the old server stops its device for us
        WarmUp.rehearseLoad(served);
        String identity;
        try {
            identity = DeviceIdentity.of(written, served, options);
        } catch (VfioException e) {
            throw new IOException("cannot describe this server's device: " + e.getMessage(), e);
        }
        HandoverWire wire = new HandoverWire(UnixSocket.connect(controlPath));
        try {
            wire.send(HandoverWire.HELLO, "successor pid " + ProcessHandle.current().pid());
            HandoverWire.Frame frame = wire.expect(HandoverWire.STATE);
            return new TakeOver(wire, HandoverState.decode(frame.body(), frame.fds()), identity);
        } catch (IOException | RuntimeException e) {
            wire.close();
            throw e;
        }
    }

    /** The listening socket taken over; empty when the old server served one pre-connected client. */
    public Optional<UnixServerSocket> listener() throws LinuxException {
        if (listener == null && state.listener() != null) {
            listener = UnixServerSocket.adopt(state.listener());
        }
        return Optional.ofNullable(listener);
    }

    public Optional<Path> socketPath() {
        return state.socketPath();
    }

    /** System.nanoTime() when the old server had handled its last command (0 if none): the start of the pause. */
    public long predecessorLastHandledNanos() {
        return state.lastHandledNanos();
    }

    /** Refuses (IOException naming the difference) unless this process serves the same device with the same limits. */
    public void checkDevice() throws IOException {
        String difference = DeviceIdentity.difference(identity, state.device());
        if (difference != null) {
            throw new IOException("not the same device as the running server's: " + difference);
        }
    }

    /**
     * Rebuilds the client's session with {@code sessions} (empty without a client), rewires the
     * interrupts and loads the device, which stays stopped until {@link #commit}. On failure the
     * session is dropped with its connection left up.
     */
    public Optional<Session> resume(VfioDevice written, VfioDevice served, Function<UnixSocket, Session> sessions)
            throws IOException {
        resumeTried = true;
        Session session = null;
        try {
            if (state.client() != null) {
                session = sessions.apply(UnixSocket.adopt(state.client()));
                session.resume(state.clientCaps(), state.windows(), state.unhandledInput());
            }
            if (written instanceof PciDevice pci) {
                pci.interrupts().rewire(state.wiring());
            } else if (!state.wiring().vectors().isEmpty()) {
                throw new IOException("the running server's device had interrupts wired; this device is no PciDevice");
            }
            DeviceMigration migration = served.migration()
                    .orElseThrow(() -> new IOException("device " + written.name() + " cannot be migrated"));
            long rebuilt = System.nanoTime();
            migration.transition(MigrationState.RESUMING);
            migration.write(state.deviceState());
            migration.transition(MigrationState.STOP); // loads it; it runs only once the old server has committed
            loaded = migration;
            long done = System.nanoTime();
            // Logged once the device runs: a process's first log record is slow to format, and the device is stopped now.
            resumeReport = () -> "took over %s: the old server's last command handled %.1f ms before the state arrived; session rebuilt in %.1f ms, device loaded in %.1f ms"
                    .formatted(written.name(), state.lastHandledNanos() == 0 ? 0 : (received - state.lastHandledNanos()) / 1e6,
                            (rebuilt - received) / 1e6, (done - rebuilt) / 1e6);
            return Optional.ofNullable(session);
        } catch (IOException | VfioException | RuntimeException e) {
            if (session != null) {
                session.keepConnectionOnClose();
                session.close();
            } else {
                HandoverState.close(state.client());
                state.windows().forEach(w -> HandoverState.close(w.fd()));
            }
            state.wiring().vectors().forEach(v -> HandoverState.close(v.eventfd())); // rewired ones twice: closing is idempotent
            throw e instanceof IOException io ? io : new IOException("could not resume the device: " + e.getMessage(), e);
        }
    }

    /**
     * Tells the old server the device is loaded, waits for its COMMIT (it then gives the device up
     * and exits) and starts the device. Without a COMMIT — the old server refused, timed out or died
     * — this throws with the device still stopped: the old server serves on, or, if it died, none
     * does. Call after {@link #resume}.
     */
    public void commit() throws IOException {
        if (loaded == null) {
            throw new IllegalStateException("commit before the device was loaded");
        }
        long asked = System.nanoTime();
        DeathPoint.SUCCESSOR_LOADED.reached();
        wire.send(HandoverWire.LOADED, "");
        try {
            wire.expect(HandoverWire.COMMIT).fds().forEach(Fd::close);
        } catch (IOException e) {
            throw new IOException("the running server did not commit the hand-over (it serves on if it lives): " + e.getMessage(), e);
        }
        DeathPoint.SUCCESSOR_COMMITTED.reached();
        try {
            loaded.transition(MigrationState.RUNNING);
        } catch (VfioException e) {
            throw new IOException("the device taken over did not start (the old server has given it up): " + e.getMessage(), e);
        }
        long running = System.nanoTime();
        LOG.log(System.Logger.Level.INFO, resumeReport);
        // One clock for both processes (CLOCK_MONOTONIC): the time no I/O was processed, from the old device's stop to this one's start.
        LOG.log(System.Logger.Level.INFO, () -> "the old server committed %.1f ms after the device was loaded; device running, stopped for %.1f ms in all"
                .formatted((running - asked) / 1e6, (running - state.deviceStoppedNanos()) / 1e6));
    }

    /**
     * Tells the old server why this one does not take over (before a COMMIT it serves on) and drops
     * what was received without shutting the sockets down.
     */
    public void refuse(Throwable why) {
        try {
            wire.send(HandoverWire.REFUSED, String.valueOf(why.getMessage()));
        } catch (LinuxException ignored) {
            // the old server is gone: it then cannot serve on either
        }
        if (listener != null) {
            listener.release();
        } else {
            HandoverState.close(state.listener());
        }
        if (!resumeTried) {
            state.closeFds(); // the listener's Fd is the released socket's own: closed already
        }
    }

    @Override
    public void close() {
        wire.close();
    }

}
