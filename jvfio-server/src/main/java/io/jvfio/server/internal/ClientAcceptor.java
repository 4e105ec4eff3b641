package io.jvfio.server.internal;

import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Accepts clients on its own thread and hands them to the serving thread one at a time. A client
 * that connects while another is served is closed at once, with a log line, rather than left
 * hanging in the listen backlog: vfio-user has no message a server sends first, so closing is the
 * answer (the client's VERSION sees the end of the stream). A client that connects while the one
 * served is leaving (it closed or half-closed its end, or the server closed it) waits its turn, as
 * do clients behind it while every one ahead of them has left too: a client that reconnects at once
 * is never turned away by its own old connection.
 */
public final class ClientAcceptor {
    /** The logger, made on first use: finding the logging backend would add some 20 ms to the start of serve(). */
    private static final class Log {
        static final System.Logger LOG = System.getLogger(ClientAcceptor.class.getName());
    }

    private static final int POLLERR = 0x8, POLLHUP = 0x10, POLLRDHUP = 0x2000;
    /** More clients that left at once than a burst of honest reconnects: the rest are turned away. */
    private static final int MAX_WAITING = 64;

    private final UnixServerSocket listener;
    private final AtomicLong turnedAway;
    private final Object lock = new Object();
    // Guarded by lock.
    private final ArrayDeque<UnixSocket> waiting = new ArrayDeque<>();   // accepted, to be served in order
    private UnixSocket served;    // the one handed out last
    private boolean stopped;
    private LinuxException failure;

    /** Starts accepting on a daemon thread named {@code name}; counts the clients turned away in {@code turnedAway}. */
    public ClientAcceptor(UnixServerSocket listener, String name, AtomicLong turnedAway) {
        this.listener = listener;
        this.turnedAway = turnedAway;
        Thread.ofPlatform().daemon().name(name).start(this::acceptAll);
    }

    /**
     * The next client to serve, waiting for one; null once the listener is closed. The client
     * returned before counts as served until its connection ends.
     */
    public UnixSocket take() throws LinuxException, InterruptedException {
        synchronized (lock) {
            while (waiting.isEmpty() && !stopped) {
                lock.wait();
            }
            if (waiting.isEmpty()) {
                if (failure != null) {
                    throw failure;
                }
                return null;
            }
            served = waiting.poll();
            return served;
        }
    }

    private void acceptAll() {
        try {
            while (true) {
                UnixSocket client = listener.accept();
                synchronized (lock) {
                    // The live upgrade's take-over connection (issue 19) must be exempt from this when it arrives here.
                    if (waiting.size() < MAX_WAITING && !anyStillConnectedAhead()) {
                        waiting.add(client);
                        lock.notifyAll();
                        continue;
                    }
                }
                turnAway(client);
            }
        } catch (LinuxException e) {
            synchronized (lock) {
                if (listener.fd().isOpen()) {
                    failure = e;   // not a close(): serve() reports it
                }
            }
        } finally {
            synchronized (lock) {
                stopped = true;
                waiting.forEach(UnixSocket::close);
                waiting.clear();
                lock.notifyAll();
            }
        }
    }

    private void turnAway(UnixSocket client) {
        turnedAway.incrementAndGet();
        try {
            PeerCredentials peer = client.peerCredentials();
            Log.LOG.log(Level.WARNING, "turned away client pid %d uid %d: another client is being served (one at a time)"
                    .formatted(peer.pid(), peer.uid()));
        } catch (LinuxException e) {
            Log.LOG.log(Level.WARNING, "turned away a client: another client is being served (one at a time)");
        } finally {
            client.close();
        }
    }

    /** Whether the client served or one waiting is still connected (with lock held). */
    private boolean anyStillConnectedAhead() {
        if (stillConnected(served)) {
            return true;
        }
        for (UnixSocket w : waiting) {
            if (stillConnected(w)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code client}'s connection is up: open on our side, and neither end has hung up. */
    private static boolean stillConnected(UnixSocket client) {
        if (client == null) {
            return false;
        }
        try {
            return (Linux.poll(client.fd(), POLLRDHUP, 0) & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
        } catch (LinuxException closed) {
            return false;
        }
    }
}
