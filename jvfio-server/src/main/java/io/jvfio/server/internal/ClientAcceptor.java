package io.jvfio.server.internal;

import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Accepts clients on its own thread and hands them to the serving thread one at a time. A client
 * that connects while another is served is closed at once, with a log line, rather than left
 * hanging in the listen backlog: vfio-user has no message a server sends first, so closing is the
 * answer (the client's VERSION sees the end of the stream). A client that connects while the one
 * served is leaving (it closed or half-closed its end, or the server closed it) waits its turn.
 */
public final class ClientAcceptor {
    private static final System.Logger LOG = System.getLogger(ClientAcceptor.class.getName());
    private static final int POLLERR = 0x8, POLLHUP = 0x10, POLLRDHUP = 0x2000;

    private final UnixServerSocket listener;
    private final AtomicLong turnedAway;
    private final Object lock = new Object();
    // Guarded by lock.
    private UnixSocket waiting;   // accepted, to be served next
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
            while (waiting == null && !stopped) {
                lock.wait();
            }
            if (waiting == null) {
                if (failure != null) {
                    throw failure;
                }
                return null;
            }
            served = waiting;
            waiting = null;
            return served;
        }
    }

    private void acceptAll() {
        try {
            while (true) {
                UnixSocket client = listener.accept();
                synchronized (lock) {
                    // The live upgrade's take-over connection (issue 19) must be exempt from this when it arrives here.
                    if (waiting == null && !stillConnected(served)) {
                        waiting = client;
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
                if (waiting != null) {
                    waiting.close();
                    waiting = null;
                }
                lock.notifyAll();
            }
        }
    }

    private void turnAway(UnixSocket client) {
        turnedAway.incrementAndGet();
        try {
            PeerCredentials peer = client.peerCredentials();
            LOG.log(Level.WARNING, "turned away client pid %d uid %d: another client is being served (one at a time)"
                    .formatted(peer.pid(), peer.uid()));
        } catch (LinuxException e) {
            LOG.log(Level.WARNING, "turned away a client: another client is being served (one at a time)");
        } finally {
            client.close();
        }
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
