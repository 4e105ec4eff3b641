package io.jvfio.server.faults;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The client side of a {@link FaultControl} socket ({@code jvfio fault}, tests): one request line
 * out, one reply line back. A reply with {@code "ok": false} becomes an
 * {@link IllegalArgumentException} carrying the server's message.
 */
public final class FaultControlClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SocketChannel channel;
    private final ByteBuffer incoming = ByteBuffer.allocate(64 * 1024).flip();

    private FaultControlClient(SocketChannel channel) {
        this.channel = channel;
    }

    /** Connects to the control socket at {@code path}. */
    public static FaultControlClient connect(Path path) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(path));
            return new FaultControlClient(channel);
        } catch (IOException e) {
            channel.close();
            throw new IOException("cannot connect to the fault control socket " + path + ": " + e.getMessage(), e);
        }
    }

    /** The armed rules: {@code rules} (each with {@code id}, {@code rule}, {@code matches}, {@code firings}) and {@code fired}. */
    public JsonNode list() throws IOException {
        return call(op("list"));
    }

    /** Arms the rule written as in a plan (YAML or JSON); its id. */
    public String inject(String rule) throws IOException {
        return call(op("inject").put("rule", rule)).path("id").asText();
    }

    /** Disarms the rule {@code id}. */
    public void remove(String id) throws IOException {
        call(op("remove").put("id", id));
    }

    /** Disarms every rule; how many there were. */
    public int clear() throws IOException {
        return call(op("clear")).path("cleared").asInt();
    }

    /** The firings numbered {@code since} on (at most a page): {@code firings} and {@code next}. */
    public JsonNode log(long since) throws IOException {
        return call(op("log").put("since", since));
    }

    /** Sends {@code request} and returns the reply, whatever it says. */
    public JsonNode request(JsonNode request) throws IOException {
        return requestLine(JSON.writeValueAsString(request));
    }

    /** Sends {@code line} as it is (a tool passing requests through) and returns the reply. */
    public JsonNode requestLine(String request) throws IOException {
        byte[] line = (request + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.wrap(line);
        while (out.hasRemaining()) {
            channel.write(out);
        }
        return JSON.readTree(readLine());
    }

    private JsonNode call(ObjectNode request) throws IOException {
        JsonNode reply = request(request);
        if (!reply.path("ok").asBoolean()) {
            throw new IllegalArgumentException(reply.path("error").asText("the fault control socket refused the request"));
        }
        return reply;
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            while (incoming.hasRemaining()) {
                byte b = incoming.get();
                if (b == '\n') {
                    return line.toString(StandardCharsets.UTF_8);
                }
                line.write(b);
            }
            incoming.clear();
            int n = channel.read(incoming);
            incoming.flip();
            if (n < 0) {
                throw new EOFException("the fault control socket closed the connection");
            }
        }
    }

    private static ObjectNode op(String name) {
        return JSON.createObjectNode().put("op", name);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
