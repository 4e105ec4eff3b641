package io.jvfio.server.internal;

/**
 * Where a live upgrade takes a served client: the session calls it on its own thread once it is at
 * a message boundary (nothing read and not handled, no DMA request waiting for its reply); a server
 * with no client calls it on its serve thread, with no session.
 */
public interface HandoverPoint {
    /**
     * Hands the session to a successor, or fails and leaves it serving. True: the successor serves
     * the client now, and the session ends without touching the connection.
     */
    boolean handOver(Session sessionOrNull);
}
