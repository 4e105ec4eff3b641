package io.jvfio.server.faults;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.server.AccessPolicy;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A device's fault control socket: {@code jvfio fault CONTROL …} lists, injects, removes and clears
 * rules and reads the firing log of a running server. A UNIX socket file of mode 0600; a peer of
 * another user is refused. One JSON request per line, one JSON reply per line:
 *
 * <pre>
 * {"op":"list"}                          → {"ok":true,"rules":[{"id":…,"rule":"{…}","matches":n,"firings":n}],"fired":n}
 * {"op":"inject","rule":"{on: …}"}       → {"ok":true,"id":"…"}      (rule: plan text, YAML or JSON, or an object)
 * {"op":"remove","id":"…"}               → {"ok":true}
 * {"op":"clear"}                         → {"ok":true,"cleared":n}
 * {"op":"log","since":n}                 → {"ok":true,"next":n,"firings":[{"n":…,"time":…,"rule":…,"action":…,"matched":…}]}
 * anything wrong                         → {"ok":false,"error":"…"}
 * </pre>
 *
 * <p>A client cannot hold the server up: each connection has its own thread, at most
 * {@link #MAX_CLIENTS} at once (more wait in the backlog until a place is free); a request is at most {@link #MAX_REQUEST_BYTES}; a connection that
 * sends nothing for {@link #IDLE_TIMEOUT_NANOS} or does not take a reply within
 * {@link #SEND_TIMEOUT_NANOS} is cut off; a log reply carries at most {@link #LOG_PAGE} firings (the
 * client asks again from {@code next}).
 */
public final class FaultControl implements AutoCloseable {
    public static final int MAX_CLIENTS = 4;
    public static final int MAX_REQUEST_BYTES = 64 * 1024;
    public static final long IDLE_TIMEOUT_NANOS = 30_000_000_000L;
    public static final long SEND_TIMEOUT_NANOS = 10_000_000_000L;
    public static final int LOG_PAGE = 1000;
    private static final long REAPER_PERIOD_MILLIS = 250;
    private static final System.Logger LOG = System.getLogger(FaultControl.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final UnixServerSocket listener;
    private final Path path;
    private final Faults faults;
    private final FaultVocabulary vocabulary;
    private final int ownUid;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    /** Clients served at once; one more waits for a place. */
    private final Semaphore places = new Semaphore(MAX_CLIENTS);
    private final AtomicLong injected = new AtomicLong();
    private final Thread acceptor;
    private final Thread reaper;
    private volatile boolean closed;

    /** One client: its socket and the time by which it must have made progress. */
    private static final class Connection {
        final UnixSocket socket;
        volatile long deadline;

        Connection(UnixSocket socket) {
            this.socket = socket;
            expectWithin(IDLE_TIMEOUT_NANOS);
        }

        void expectWithin(long nanos) {
            deadline = System.nanoTime() + nanos;
        }
    }

    private FaultControl(UnixServerSocket listener, Path path, Faults faults, FaultVocabulary vocabulary) {
        this.listener = listener;
        this.path = path;
        this.faults = faults;
        this.vocabulary = vocabulary;
        this.ownUid = AccessPolicy.currentUid();
        this.acceptor = Thread.ofPlatform().daemon().name("jvfio-fault-control").unstarted(this::acceptClients);
        this.reaper = Thread.ofPlatform().daemon().name("jvfio-fault-control-deadlines").unstarted(this::cutOffLateClients);
    }

    /**
     * Listens at {@code path} (mode 0600; a stale socket there is replaced) for requests about
     * {@code faults}, whose rules are written in {@code vocabulary}'s words.
     */
    public static FaultControl open(Path path, Faults faults, FaultVocabulary vocabulary) throws IOException {
        UnixServerSocket listener = UnixServerSocket.bindReplacingStale(path, 0600, MAX_CLIENTS);
        FaultControl control = new FaultControl(listener, path, faults, vocabulary);
        control.acceptor.start();
        control.reaper.start();
        return control;
    }

    /** The socket file. */
    public Path path() {
        return path;
    }

    /** Stops listening, cuts off the clients and removes the socket file. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        listener.close();
        acceptor.interrupt();
        connections.forEach(c -> c.socket.shutdown());
        reaper.interrupt();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove the fault control socket " + path + ": " + e.getMessage());
        }
    }

    /** Takes clients while there is a place for one; beyond {@link #MAX_CLIENTS} they wait in the backlog. */
    private void acceptClients() {
        while (!closed) {
            UnixSocket client;
            try {
                places.acquire();
                client = listener.accept();
            } catch (InterruptedException e) {
                return; // closing
            } catch (LinuxException e) {
                if (!closed) {
                    LOG.log(Level.ERROR, "fault control socket failed; it stops: " + e.getMessage());
                }
                return;
            }
            if (!admitted(client)) {
                client.close();
                places.release();
                continue;
            }
            Connection connection = new Connection(client);
            connections.add(connection);
            if (closed) {
                client.shutdown(); // close() may have passed the connections before this one joined
            }
            Thread.ofPlatform().daemon().name("jvfio-fault-control-client").start(() -> serve(connection));
        }
    }

    private boolean admitted(UnixSocket client) {
        try {
            PeerCredentials peer = client.peerCredentials();
            if (peer.uid() == ownUid) {
                return true;
            }
            LOG.log(Level.WARNING, "fault control: refused pid %d uid %d (only uid %d may control faults)"
                    .formatted(peer.pid(), peer.uid(), ownUid));
        } catch (LinuxException e) {
            LOG.log(Level.WARNING, "fault control: refused a client whose credentials cannot be read: " + e.getMessage());
        }
        return false;
    }

    /** Answers the requests of one client, a line each, until it hangs up, misbehaves or we close. */
    private void serve(Connection connection) {
        byte[] buffer = new byte[MAX_REQUEST_BYTES];
        MemorySegment segment = MemorySegment.ofArray(buffer);
        int filled = 0;
        try (UnixSocket socket = connection.socket) {
            while (!closed) {
                int newline = indexOf(buffer, filled, (byte) '\n');
                if (newline >= 0) {
                    String line = new String(buffer, 0, newline, StandardCharsets.UTF_8);
                    System.arraycopy(buffer, newline + 1, buffer, 0, filled - newline - 1);
                    filled -= newline + 1;
                    if (!line.isBlank() && !reply(connection, answer(line))) {
                        return;
                    }
                    continue;
                }
                if (filled == buffer.length) {
                    reply(connection, error("request longer than " + MAX_REQUEST_BYTES + " bytes"));
                    return;
                }
                connection.expectWithin(IDLE_TIMEOUT_NANOS);
                int n = socket.receiveSome(segment.asSlice(filled), List.of(), MessageReceiver.Wait.BLOCK);
                if (n <= 0) {
                    return;
                }
                filled += n;
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.log(Level.DEBUG, "fault control client gone: " + e);
            }
        } finally {
            connections.remove(connection);
            places.release();
        }
    }

    /** Sends one reply line within the send deadline; false if the client is gone. */
    private boolean reply(Connection connection, ObjectNode reply) {
        try {
            byte[] line = (JSON.writeValueAsString(reply) + "\n").getBytes(StandardCharsets.UTF_8);
            connection.expectWithin(SEND_TIMEOUT_NANOS);
            connection.socket.send(MemorySegment.ofArray(line));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Shuts down the connections past their deadline, which ends their threads' waits. */
    private void cutOffLateClients() {
        while (!closed) {
            try {
                Thread.sleep(REAPER_PERIOD_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (Connection c : connections) {
                if (now - c.deadline > 0) {
                    LOG.log(Level.DEBUG, "fault control: cut off a client that made no progress");
                    c.socket.shutdown();
                }
            }
        }
    }

    /** The reply to one request line. Never throws: whatever is wrong is the reply. */
    private ObjectNode answer(String line) {
        try {
            JsonNode request = JSON.readTree(line);
            if (request == null || !request.isObject() || !request.path("op").isTextual()) {
                return error("a request is a JSON object with \"op\": list, inject, remove, clear or log");
            }
            return switch (request.get("op").asText()) {
                case "list" -> list();
                case "inject" -> inject(request.get("rule"));
                case "remove" -> remove(request.path("id").asText(null));
                case "clear" -> ok().put("cleared", clear());
                case "log" -> log(request.path("since").asLong(0));
                default -> error("unknown op '%s'; ops: list, inject, remove, clear, log".formatted(request.get("op").asText()));
            };
        } catch (JsonProcessingException e) {
            return error("a request is one line of JSON: " + e.getOriginalMessage());
        } catch (IllegalArgumentException e) {
            return error(e.getMessage());
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "fault control request failed: " + line, e);
            return error("internal error: " + e);
        }
    }

    private ObjectNode list() {
        ObjectNode reply = ok();
        ArrayNode rules = reply.putArray("rules");
        for (Faults.RuleStatus status : faults.status()) {
            rules.addObject().put("id", status.rule().id()).put("rule", FaultPlan.describe(status.rule(), vocabulary))
                    .put("matches", status.matches()).put("firings", status.firings());
        }
        return reply.put("fired", faults.firedTotal());
    }

    private ObjectNode inject(JsonNode rule) {
        if (rule == null || rule.isNull()) {
            return error("inject needs \"rule\": the rule as in a plan (YAML or JSON text, or an object)");
        }
        Set<String> armed = new HashSet<>(faults.rules().stream().map(FaultRule::id).toList());
        String defaultId;
        do {
            defaultId = "injected-" + injected.incrementAndGet();
        } while (armed.contains(defaultId));
        FaultRule parsed = rule.isTextual()
                ? FaultPlan.parseRule(rule.asText(), vocabulary, defaultId)
                : FaultPlan.rule(rule, vocabulary, 0, defaultId, 0);
        faults.add(parsed);
        return ok().put("id", parsed.id());
    }

    private ObjectNode remove(String id) {
        if (id == null) {
            return error("remove needs \"id\"");
        }
        return faults.remove(id) ? ok() : error("no rule named '" + id + "' is armed");
    }

    private int clear() {
        int armed = faults.rules().size();
        faults.clear();
        return armed;
    }

    private ObjectNode log(long since) {
        Faults.LogExcerpt excerpt = faults.logSince(since);
        List<FaultFiring> firings = excerpt.firings();
        int shown = Math.min(firings.size(), LOG_PAGE);
        long first = excerpt.next() - firings.size();
        ObjectNode reply = ok().put("next", first + shown);
        ArrayNode list = reply.putArray("firings");
        for (int i = 0; i < shown; i++) {
            FaultFiring f = firings.get(i);
            list.addObject().put("n", first + i).put("time", f.time().toString()).put("rule", f.ruleId())
                    .put("action", FaultPlan.describe(f.action(), vocabulary)).put("matched", f.matched());
        }
        return reply;
    }

    private static ObjectNode ok() {
        return JSON.createObjectNode().put("ok", true);
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("ok", false).put("error", message);
    }

    private static int indexOf(byte[] bytes, int length, byte wanted) {
        for (int i = 0; i < length; i++) {
            if (bytes[i] == wanted) {
                return i;
            }
        }
        return -1;
    }
}
