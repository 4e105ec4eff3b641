package io.jvfio.server.internal;

import io.jvfio.linux.EventFd;
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
 * that connects while another is served is closed at once (after a quarter second's grace for a
 * session that is just ending), with a log line, rather than left hanging in the listen backlog: vfio-user has no message a server sends first, so closing is the
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
    /** How long a client that comes while another is served waits for that one's session to end before it is turned away. */
    private static final long GRACE_MILLIS = 250;
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
    /** Set by {@link #stop()}: the accepting thread ends without closing the listener. */
    private boolean stopRequested;
    /** Set by {@link #pause()}; {@code idle} once the accepting thread has seen it and accepts no more. */
    private boolean paused, idle;
    /** Set by {@link #wake()}: the next {@link #take()} returns null once. */
    private boolean woken;
    private final Thread thread;
    /** Wakes the accepting thread from its poll for a pause or a stop (it never polls on a timer); the server's. */
    private final EventFd wakeup;

    /**
     * Starts accepting on a daemon thread named {@code name}; counts the clients turned away in
     * {@code turnedAway}. {@code wakeup} (the caller's, left open) wakes the thread for a pause or a stop.
     */
    public ClientAcceptor(UnixServerSocket listener, EventFd wakeup, String name, AtomicLong turnedAway) {
        this.listener = listener;
        this.wakeup = wakeup;
        this.turnedAway = turnedAway;
        this.thread = Thread.ofPlatform().daemon().name(name).start(this::acceptAll);
    }

    /**
     * The next client to serve, waiting for one; null once the listener is closed or the acceptor
     * stopped ({@link #isStopped()}), or once after {@link #wake()}. The client returned before counts
     * as served until its connection ends.
     */
    public UnixSocket take() throws LinuxException, InterruptedException {
        synchronized (lock) {
            while (waiting.isEmpty() && !stopped && !woken) {
                lock.wait();
            }
            if (waiting.isEmpty()) {
                woken = false;
                if (stopped && failure != null) {
                    throw failure;
                }
                return null;
            }
            served = waiting.poll();
            return served;
        }
    }

    /** Makes a {@link #take()} waiting now (or the next one) return null: the serving thread has something else to do. */
    public void wake() {
        synchronized (lock) {
            woken = true;
            lock.notifyAll();
        }
    }

    /** Whether the accepting thread has ended (listener closed, or {@link #stop()}). */
    public boolean isStopped() {
        synchronized (lock) {
            return stopped;
        }
    }

    /**
     * Accepts no more clients until {@link #resume()}, returning once the accepting thread is past any
     * accept: a live upgrade hands the listening socket to a successor, which alone accepts on it then.
     */
    public void pause() throws InterruptedException {
        synchronized (lock) {
            paused = true;
            signalWakeup();
            while (!idle && !stopped) {
                lock.wait();
            }
        }
    }

    /** Accepts clients again after {@link #pause()} (the hand-over failed). */
    public void resume() {
        synchronized (lock) {
            paused = false;
            lock.notifyAll();
        }
    }

    /**
     * Ends the accepting thread without closing the listener (a successor may own it now); clients
     * accepted but not yet served are closed. Returns once the thread has ended.
     */
    public void stop() throws InterruptedException {
        synchronized (lock) {
            stopRequested = true;
            lock.notifyAll();
        }
        signalWakeup();
        thread.join();
    }

    private void signalWakeup() {
        try {
            wakeup.signal();
        } catch (LinuxException e) {
            // closed with the server: the accepting thread has ended
        }
    }

    /** Waits for a client on the listener, or for a pause or a stop; false once stopped. */
    private boolean awaitConnection() throws LinuxException, InterruptedException {
        while (true) {
            synchronized (lock) {
                while (paused && !stopRequested) {
                    idle = true;
                    lock.notifyAll();
                    lock.wait();
                }
                idle = false;
                if (stopRequested) {
                    return false;
                }
            }
            // Sleeps until a client comes (or the listener is shut down), or pause/stop signal the wake-up.
            int ready = Linux.pollIn(listener.fd(), wakeup.fd(), -1);
            if ((ready & 2) != 0) {
                wakeup.read();
            }
            if ((ready & 1) != 0) {
                synchronized (lock) {
                    if (!paused && !stopRequested) {
                        return true;
                    }
                }
            }
        }
    }

    private void acceptAll() {
        try {
            while (awaitConnection()) {
                UnixSocket client = listener.accept();
                synchronized (lock) {
                    UnixSocket ahead = stillConnectedAheadAfterGrace();
                    if (waiting.size() < MAX_WAITING && ahead == null) {
                        waiting.add(client);
                        lock.notifyAll();
                        continue;
                    }
                    turnAway(client, ahead);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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

    /** Closes {@code client}, logging who it was and who is served ({@code ahead}; null: too many waiting). */
    private void turnAway(UnixSocket client, UnixSocket ahead) {
        turnedAway.incrementAndGet();
        try {
            Log.LOG.log(Level.WARNING, "turned away client %s: %s".formatted(describe(client), ahead == null
                    ? MAX_WAITING + " clients wait already" : "client " + describe(ahead) + " is being served (one at a time)"));
        } finally {
            client.close();
        }
    }

    private static String describe(UnixSocket client) {
        try {
            PeerCredentials peer = client.peerCredentials();
            return "pid %d uid %d".formatted(peer.pid(), peer.uid());
        } catch (LinuxException e) {
            return "(credentials unknown)";
        }
    }

    /**
     * {@link #stillConnectedAhead()}, giving a session that is ending {@link #GRACE_MILLIS} to end
     * (with lock held; waits on it): a client that left an instant ago may still look connected while
     * its session tears down, and the client after it (often the same program, reconnecting) must
     * not be turned away for that.
     */
    private UnixSocket stillConnectedAheadAfterGrace() throws InterruptedException {
        long deadline = System.nanoTime() + GRACE_MILLIS * 1_000_000L;
        UnixSocket ahead = stillConnectedAhead();
        while (ahead != null && System.nanoTime() < deadline) {
            lock.wait(5);
            ahead = stillConnectedAhead();
        }
        return ahead;
    }

    /** The client served, or one waiting, that is still connected; null if none (with lock held). */
    private UnixSocket stillConnectedAhead() {
        if (stillConnected(served)) {
            return served;
        }
        for (UnixSocket w : waiting) {
            if (stillConnected(w)) {
                return w;
            }
        }
        return null;
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
