package io.jvfio.server.handover;

import io.jvfio.linux.UnixServerSocket;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.internal.HandoverPoint;
import java.nio.file.Path;
import java.util.Optional;

/** What a live upgrade needs of the server it takes a client from. */
public interface HandoverHost {
    /** The device as written (its interrupt lines). */
    VfioDevice device();

    /** The device as clients see it, with the platform's extensions (its regions and migration). */
    VfioDevice served();

    ServerOptions options();

    /** The listening socket; empty when the server serves one pre-connected client. */
    Optional<UnixServerSocket> listener();

    /** Where the listening socket is bound, if the server bound it. */
    Optional<Path> socketPath();

    /**
     * Calls {@code point} at the next message boundary of the client being served, or on the serve
     * thread while none is (the point then gets no session).
     */
    void requestHandover(HandoverPoint point);

    /**
     * Stops accepting new clients on the listening socket (returns once no accept is under way), as
     * the listening socket is about to be the successor's.
     */
    void pauseAccepting() throws InterruptedException;

    /** Accepts clients again: the hand-over failed and this server serves on. */
    void resumeAccepting();
}
