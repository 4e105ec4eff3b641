package io.jvfio.cli.trace;

import io.jvfio.cli.trace.TraceDecoder.Direction;
import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Header;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A transparent vfio-user proxy that prints one line per message: it listens on one socket, and
 * for each client connects to the real server and forwards every message in both directions
 * unchanged, bytes and SCM_RIGHTS fds alike (a received fd goes out with the same message and is
 * then closed here). Messages are framed by their 16-byte header; a message the decoder does not
 * understand is still forwarded, its line says {@code undecodable: reason}. Clients are served one
 * after another, as a vfio-user server serves them; when either side closes, the other is closed
 * and the proxy accepts the next client.
 *
 * <pre>{@code
 * try (TraceProxy proxy = TraceProxy.bind(listen, upstream, System.out::println).start()) {
 *     // point the client (QEMU, VfioUserClient) at `listen`
 * }
 * }</pre>
 */
public final class TraceProxy implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(TraceProxy.class.getName());
    /** The kernel's limit of fds in one SCM_RIGHTS message (SCM_MAX_FD): never drop what a peer may send. */
    static final int MAX_FDS_PER_MESSAGE = 253;
    /** Payloads up to this size are buffered and decoded (QEMU accepts max_data_xfer_size up to 64 MiB); larger ones stream through. */
    static final long MAX_BUFFERED_PAYLOAD = (64L << 20) + 4096;
    private static final int STREAM_CHUNK = 1 << 16;
    private static final int SOCKET_MODE = 0600;
    private static final long CLOSE_WAIT_SECONDS = 10;

    private final UnixServerSocket listener;
    private final Path listenPath;
    private final Path upstream;
    private final Consumer<String> sink;
    private final long startNanos = System.nanoTime();
    private final AtomicInteger connections = new AtomicInteger();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Object emitLock = new Object();
    private volatile boolean closed;
    private volatile boolean serving;
    private volatile Session current;

    private TraceProxy(UnixServerSocket listener, Path listenPath, Path upstream, Consumer<String> sink) {
        this.listener = listener;
        this.listenPath = listenPath;
        this.upstream = upstream;
        this.sink = sink;
    }

    /**
     * Listens on {@code listen} (mode 0600; a stale socket left by a dead process is replaced, a
     * live one or any other file is not) and will forward to {@code upstream}; {@code sink} gets
     * every trace line (from the proxy's threads, one call at a time).
     */
    public static TraceProxy bind(Path listen, Path upstream, Consumer<String> sink) throws IOException {
        Objects.requireNonNull(sink, "sink");
        if (listen.toAbsolutePath().normalize().equals(upstream.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("--listen and --upstream are the same socket: " + listen);
        }
        return new TraceProxy(UnixServerSocket.bindReplacingStale(listen, SOCKET_MODE, 4), listen, upstream, sink);
    }

    public Path listenPath() {
        return listenPath;
    }

    public Path upstream() {
        return upstream;
    }

    /** How many clients have been accepted so far. */
    public int connectionCount() {
        return connections.get();
    }

    /** Whether a client is being proxied now. */
    public boolean hasClient() {
        return current != null;
    }

    /** Runs {@link #serve()} on a daemon thread; returns this proxy. */
    public TraceProxy start() {
        Thread.ofPlatform().name("jvfio-trace-accept").daemon().start(() -> {
            try {
                serve();
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.ERROR, "trace proxy stopped: " + e.getMessage(), e);
                }
            }
        });
        return this;
    }

    /** Accepts and proxies clients one after another until {@link #close()}. */
    public void serve() throws IOException {
        serving = true;
        try {
            while (!closed) {
                UnixSocket client;
                try {
                    client = listener.accept();
                } catch (LinuxException e) {
                    if (closed) {
                        return;
                    }
                    throw e;
                }
                proxy(client);
            }
        } finally {
            stopped.countDown();
        }
    }

    private void proxy(UnixSocket client) {
        int number = connections.incrementAndGet();
        String peer = "";
        try {
            PeerCredentials c = client.peerCredentials();
            peer = " (pid %d, uid %d)".formatted(c.pid(), c.uid());
        } catch (LinuxException e) {
            // The pid is a courtesy; a peer without credentials is still proxied.
        }
        UnixSocket server;
        try {
            server = UnixSocket.connect(upstream);
        } catch (LinuxException e) {
            emit("--- connection %d: client connected%s; upstream %s, client dropped".formatted(number, peer, e.getMessage()));
            client.close();
            return;
        }
        emit("--- connection %d: client connected%s, upstream %s connected".formatted(number, peer, upstream));
        Session session = new Session(number, client, server);
        current = session;
        try {
            if (closed) {
                session.stop();
            }
            session.run();
        } finally {
            current = null;
        }
    }

    /** Prints a line with the time since the proxy started; a failing sink never stops forwarding. */
    void emit(String text) {
        double ms = (System.nanoTime() - startNanos) / 1e6;
        String line = "%10.3f %s".formatted(ms, text);
        synchronized (emitLock) {
            try {
                sink.accept(line);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "trace sink failed: " + e, e);
            }
        }
    }

    /** Stops accepting, disconnects the current client and server, waits for them, and removes the socket file. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        listener.close();
        Session s = current;
        if (s != null) {
            s.stop();
        }
        if (serving) {
            try {
                if (!stopped.await(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    LOG.log(System.Logger.Level.WARNING, "trace proxy: connection did not stop within " + CLOSE_WAIT_SECONDS + " s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            Files.deleteIfExists(listenPath);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not remove " + listenPath + ": " + e.getMessage());
        }
    }

    /** One client and its upstream connection, a pump thread per direction. */
    private final class Session {
        private final int number;
        private final UnixSocket client;
        private final UnixSocket server;
        private final TraceDecoder decoder = new TraceDecoder();
        private final AtomicReference<String> endReason = new AtomicReference<>();

        Session(int number, UnixSocket client, UnixSocket server) {
            this.number = number;
            this.client = client;
            this.server = server;
            client.setMaxReceiveFds(MAX_FDS_PER_MESSAGE);
            server.setMaxReceiveFds(MAX_FDS_PER_MESSAGE);
        }

        void run() {
            try {
                Thread back = Thread.ofPlatform().name("jvfio-trace-s2c-" + number).daemon()
                        .start(() -> pump(server, client, Direction.SERVER_TO_CLIENT));
                pump(client, server, Direction.CLIENT_TO_SERVER);
                back.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                client.close();
                server.close();
            }
            emit("--- connection %d closed: %s".formatted(number, endReason.get()));
        }

        void stop() {
            endReason.compareAndSet(null, "proxy stopped");
            client.shutdown();
            server.shutdown();
        }

        private void pump(UnixSocket from, UnixSocket to, Direction direction) {
            String source = direction == Direction.CLIENT_TO_SERVER ? "client" : "server";
            String destination = direction == Direction.CLIENT_TO_SERVER ? "server" : "client";
            MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
            byte[] buffer = new byte[4096];
            List<Fd> fds = new ArrayList<>();
            boolean sending = false;
            try {
                while (true) {
                    sending = false;
                    if (!from.receiveFully(header, fds)) {
                        endReason.compareAndSet(null, source + " closed the connection");
                        return;
                    }
                    long size = Header.messageSize(header);
                    if (size < Header.SIZE) {
                        // Unframeable: pass the header on and let the peer judge it.
                        emit(decoder.describe(direction, header, MemorySegment.NULL, fds.size()));
                        sending = true;
                        to.send(header, fds);
                    } else if (size - Header.SIZE <= MAX_BUFFERED_PAYLOAD) {
                        int length = (int) (size - Header.SIZE);
                        if (buffer.length < length) {
                            buffer = new byte[length];
                        }
                        MemorySegment payload = MemorySegment.ofArray(buffer).asSlice(0, length);
                        if (length > 0 && !from.receiveFully(payload, fds)) {
                            endReason.compareAndSet(null, source + " closed the connection in the middle of a message");
                            return;
                        }
                        emit(decoder.describe(direction, header, payload, fds.size()));
                        sending = true;
                        to.send(header, length == 0 ? MemorySegment.NULL : payload, fds);
                    } else {
                        emit(decoder.describe(direction, header, null, fds.size()));
                        sending = true;
                        to.send(header, fds);
                        closeAll(fds);
                        stream(from, to, size - Header.SIZE, fds);
                    }
                    closeAll(fds);
                }
            } catch (IOException | RuntimeException e) {
                String side = sending ? "sending to the " + destination : "receiving from the " + source;
                endReason.compareAndSet(null, side + " failed: " + e.getMessage());
            } finally {
                closeAll(fds);
                from.shutdown();
                to.shutdown();
            }
        }

        /** Forwards {@code remaining} payload bytes chunk by chunk, each chunk with the fds that came with it. */
        private void stream(UnixSocket from, UnixSocket to, long remaining, List<Fd> fds) throws IOException {
            MemorySegment chunk = MemorySegment.ofArray(new byte[STREAM_CHUNK]);
            while (remaining > 0) {
                MemorySegment part = chunk.asSlice(0, Math.min(remaining, STREAM_CHUNK));
                int n = from.receiveSome(part, fds, MessageReceiver.Wait.BLOCK);
                if (n == 0) {
                    throw new IOException("connection closed with " + remaining + " bytes of a message left");
                }
                to.send(part.asSlice(0, n), fds);
                closeAll(fds);
                remaining -= n;
            }
        }

        private static void closeAll(List<Fd> fds) {
            fds.forEach(Fd::close);
            fds.clear();
        }
    }
}
