package io.jvfio.server.handover;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.server.DeviceMigration;
import io.jvfio.server.InterruptLines;
import io.jvfio.server.PciDevice;
import io.jvfio.server.VfioException;
import io.jvfio.server.internal.DmaSpace;
import io.jvfio.server.internal.HandoverPoint;
import io.jvfio.server.internal.Session;
import io.jvfio.server.internal.SessionSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The running server's side of a live upgrade: listens on a control socket for a successor. When
 * one says {@link HandoverWire#HELLO}, the server, at its next message boundary, stops the device
 * (the migration's STOP_COPY: it quiesces and saves), sends its sockets, the client's DMA windows and
 * interrupt eventfds, the negotiated capabilities and the device's state, and waits for the
 * successor's {@link HandoverWire#LOADED} (its device loaded and still stopped). Then it commits:
 * sends {@link HandoverWire#COMMIT} and stops serving, leaving every socket up, never to run the
 * device again; the successor starts its device only on that COMMIT. Anything that fails before the
 * COMMIT went out puts the device back to RUNNING and the server serves on: the successor never ran
 * the device, so nothing is lost and nothing done twice. A successor may try again.
 */
public final class HandoverOffer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HandoverOffer.class.getName());
    /** How long a successor may wait for the server's next message boundary. */
    private static final long BOUNDARY_TIMEOUT_SECONDS = 30;
    /** Tries to stop the device at a boundary before the successor is refused (only a client sending fds meanwhile spoils one). */
    private static final int MAX_STOP_ATTEMPTS = 100;
    private static final int MIGRATION_CHUNK = 1 << 20;
    /** A successor says HELLO at once; the control socket is not listening meanwhile. */
    private static final int HELLO_TIMEOUT_MILLIS = 10_000;
    /** How long the device stays stopped for a successor that loads the state; then this server runs it again. */
    private static final int LOAD_TIMEOUT_MILLIS = 30_000;
    private static final int CLOSE_WAIT_MILLIS = 5_000;

    /** Listens only while no successor is being served: the path is then free for the successor's own offer. */
    private volatile UnixServerSocket control;
    private final Path controlPath;
    private final HandoverHost host;
    private final Thread thread;
    private volatile boolean closed;
    /** Whether {@link #control} is bound (not while a successor is served: the path may be the successor's then). */
    private boolean listening = true;   // guarded by this

    private HandoverOffer(UnixServerSocket control, Path controlPath, HandoverHost host) {
        this.control = control;
        this.controlPath = controlPath;
        this.host = host;
        this.thread = Thread.ofPlatform().daemon().name("jvfio-handover-" + host.device().name()).unstarted(this::acceptSuccessors);
    }

    /** Listens on {@code controlPath} (mode 0600; a stale socket is replaced) for successors of {@code host}. */
    public static HandoverOffer listen(Path controlPath, HandoverHost host) throws IOException {
        WarmUp.run();
        HandoverOffer offer = new HandoverOffer(UnixServerSocket.bindReplacingStale(controlPath, 0600, 1), controlPath, host);
        offer.thread.start();
        return offer;
    }

    private void acceptSuccessors() {
        while (!closed) {
            UnixSocket connection;
            try {
                connection = control.accept();
            } catch (LinuxException e) {
                if (!closed) {
                    LOG.log(Level.ERROR, "hand-over socket " + controlPath + " failed: " + e.getMessage());
                }
                return;
            }
            stopListening(); // one successor at a time
            try (HandoverWire wire = new HandoverWire(connection)) {
                if (!wire.awaitInput(HELLO_TIMEOUT_MILLIS)) {
                    throw new IOException("a peer connected and said nothing for " + HELLO_TIMEOUT_MILLIS + " ms");
                }
                HandoverWire.Frame hello = wire.expect(HandoverWire.HELLO);
                hello.fds().forEach(Fd::close);
                if (serveSuccessor(wire, hello.text())) {
                    closed = true; // the server stops serving; the control path may be the successor's now
                    return;
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "hand-over failed, serving on: " + e.getMessage());
            }
            synchronized (this) {
                try {
                    if (!closed) {
                        control = UnixServerSocket.bindReplacingStale(controlPath, 0600, 1);
                        listening = true;
                    }
                } catch (IOException e) {
                    LOG.log(Level.ERROR, "cannot listen on " + controlPath + " for successors any more: " + e.getMessage());
                    return;
                }
            }
        }
    }

    private synchronized void stopListening() {
        if (!listening) {
            return;
        }
        listening = false;
        control.close();
        try {
            Files.deleteIfExists(controlPath);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not remove " + controlPath + ": " + e.getMessage());
        }
    }

    /** Asks the server for its next boundary and waits for the outcome there. */
    private boolean serveSuccessor(HandoverWire wire, String successor) throws IOException {
        String identity;
        try {
            identity = DeviceIdentity.of(host.device(), host.served(), host.options()); // now: not while the device is stopped
        } catch (VfioException e) {
            throw new IOException("cannot describe the device: " + e.getMessage(), e);
        }
        CompletableFuture<Boolean> outcome = new CompletableFuture<>();
        host.requestHandover(new Point(wire, outcome, identity));
        // After the request: whoever reads this line knows the session will hand over at its next boundary.
        LOG.log(Level.INFO, "successor connected (" + successor + "): handing over at the next message boundary");
        try {
            return outcome.get(BOUNDARY_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            outcome.complete(false); // a point that comes later does nothing
            wire.send(HandoverWire.REFUSED, "the running server reached no message boundary in " + BOUNDARY_TIMEOUT_SECONDS + " s");
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outcome.complete(false);
            return false;
        } catch (ExecutionException e) {
            throw new IOException(e.getCause().getMessage(), e.getCause());
        }
    }

    /** The hand-over itself, on the thread that serves the client (or the serve thread between clients). */
    private final class Point implements HandoverPoint {
        private final HandoverWire wire;
        private final CompletableFuture<Boolean> outcome;
        /** {@link DeviceIdentity} of the device served. */
        private final String identity;
        private int attempts;

        Point(HandoverWire wire, CompletableFuture<Boolean> outcome, String identity) {
            this.wire = wire;
            this.outcome = outcome;
            this.identity = identity;
        }

        @Override
        public boolean handOver(Session session) {
            if (outcome.isDone()) {
                return false; // the successor gave up waiting
            }
            DeviceMigration migration = host.served().migration().orElse(null);
            try {
                String refusal = refusal(migration);
                if (refusal != null) {
                    wire.send(HandoverWire.REFUSED, refusal);
                    outcome.completeExceptionally(new IOException(refusal));
                    return false;
                }
                long start = System.nanoTime();
                if (session != null && !session.stopAtBoundary(migration)) {
                    if (++attempts < MAX_STOP_ATTEMPTS) {
                        session.requestHandover(this); // the client sent fds meanwhile: at the next boundary
                    } else {
                        fail("the client's fds kept the device from stopping at a message boundary", null);
                    }
                    return false;
                }
                if (session == null) {
                    migration.stopCopyForSuccessor();
                }
                return transfer(session, migration, start);
            } catch (IOException | VfioException | ProtocolException | RuntimeException e) {
                runAgain(migration, e);
                fail("the device did not stop: " + e.getMessage(), e);
                return false;
            }
        }

        private String refusal(DeviceMigration migration) throws VfioException {
            if (migration == null) {
                return "device " + host.device().name() + " cannot be migrated, so its state cannot cross";
            }
            if (migration.state() != MigrationState.RUNNING) {
                return "the device is in migration state " + migration.state() + " (a client is migrating it)";
            }
            if (DeviceIdentity.hasMappableRegion(host.served())) {
                return "a region of device " + host.device().name() + " is mapped from its own memory (polled pages),"
                        + " which a live upgrade does not carry yet";
            }
            return null;
        }

        /** With the device stopped: saves, sends, waits for the successor's LOADED and commits; on failure before the commit the device runs again. */
        private boolean transfer(Session session, DeviceMigration migration, long start) {
            List<DmaSpace.ExportedWindow> windows = List.of();
            InterruptLines.Wiring wiring = new InterruptLines.Wiring(List.of(), false);
            try {
                host.pauseAccepting();
                byte[] deviceState = readStream(migration);
                SessionSnapshot snapshot = session == null ? null : session.snapshot();
                if (snapshot != null) {
                    windows = snapshot.windows();
                }
                if (host.device() instanceof PciDevice pci) {
                    wiring = pci.interrupts().wiring();
                }
                HandoverState state = new HandoverState(identity, host.socketPath(), host.listener().map(UnixServerSocket::fd).orElse(null),
                        snapshot == null ? null : snapshot.client().fd(),
                        snapshot == null ? null : snapshot.clientCapabilities(), windows, wiring, deviceState,
                        snapshot == null ? new byte[0] : snapshot.unhandledInput(), snapshot == null ? 0 : snapshot.lastHandledNanos(),
                        start);
                long stopped = System.nanoTime();
                wire.send(HandoverWire.STATE, state.encode(), state.fds());
                if (!wire.awaitInput(LOAD_TIMEOUT_MILLIS)) {
                    throw new IOException("the successor did not load the state in " + LOAD_TIMEOUT_MILLIS + " ms");
                }
                wire.expect(HandoverWire.LOADED);
                DeathPoint.OLD_LOADED.reached();
                // The commit: once this send succeeds the successor may run the device, so this server never does again.
                // If it fails, nothing reached the successor, which then never starts: the device runs here again.
                wire.send(HandoverWire.COMMIT, "");
                DeathPoint.OLD_COMMITTED.reached();
                LOG.log(Level.INFO, "handed over to the successor: device stopped and saved in %.1f ms, %d bytes of state, %d bytes of client input not yet handled, %d DMA windows, %d interrupt vectors, committed after %.1f ms"
                        .formatted((stopped - start) / 1e6, deviceState.length, state.unhandledInput().length, windows.size(), wiring.vectors().size(),
                                (System.nanoTime() - start) / 1e6));
                outcome.complete(true);
                return true;
            } catch (IOException | VfioException | RuntimeException e) {
                runAgain(migration, e);
                host.resumeAccepting();
                fail(e.getMessage(), e);
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                runAgain(migration, e);
                host.resumeAccepting();
                fail("interrupted", e);
                return false;
            } finally {
                // Duplicates only: the sockets are the ones served, and stay so until the ack.
                windows.forEach(w -> HandoverState.close(w.fd()));
                wiring.vectors().forEach(v -> HandoverState.close(v.eventfd()));
            }
        }

        private void fail(String why, Throwable cause) {
            try {
                wire.send(HandoverWire.REFUSED, why);
            } catch (LinuxException ignored) {
                // the successor is gone: nothing to tell
            }
            outcome.completeExceptionally(cause == null ? new IOException(why) : new IOException(why, cause));
        }
    }

    /** After a failed hand-over: the device runs again, as it did before (a device that failed to stop stays in ERROR). */
    private static void runAgain(DeviceMigration migration, Exception failure) {
        if (migration == null || migration.state() == MigrationState.RUNNING || migration.state() == MigrationState.ERROR) {
            return;
        }
        try {
            migration.transition(MigrationState.RUNNING);
        } catch (VfioException | RuntimeException again) {
            failure.addSuppressed(again);
        }
    }

    /** The whole STOP_COPY stream: reads until a short read, which in STOP_COPY is the end. */
    private static byte[] readStream(DeviceMigration migration) throws VfioException {
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        while (true) {
            byte[] chunk = migration.read(MIGRATION_CHUNK);
            stream.writeBytes(chunk);
            if (chunk.length < MIGRATION_CHUNK) {
                return stream.toByteArray();
            }
        }
    }

    /**
     * Stops listening for successors, removes the control socket, and waits (a few seconds at most)
     * for the thread that served the last successor to close its connection.
     */
    @Override
    public void close() {
        closed = true;
        stopListening();
        if (Thread.currentThread() != thread) {
            try {
                thread.join(CLOSE_WAIT_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
