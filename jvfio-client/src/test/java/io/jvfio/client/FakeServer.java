package io.jvfio.client;

import io.jvfio.linux.Fd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Version;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/** The server end of a socketpair, scripted by a test: it sends whatever the test says, well-formed or not. */
final class FakeServer implements AutoCloseable {
    record Message(int id, int command, int flags, int error, byte[] payload, List<Fd> fds) {
        MemorySegment data() {
            return MemorySegment.ofArray(payload);
        }
    }

    final UnixSocket socket;
    final VfioUserClient client;

    private FakeServer(UnixSocket socket, VfioUserClient client) {
        this.socket = socket;
        this.client = client;
    }

    /** Connects a client and answers its VERSION with {@code caps} (and {@code fds}). */
    static FakeServer start(ClientOptions options, VersionCapabilities caps, List<Fd> versionFds) throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        CompletableFuture<VfioUserClient> opening = async(() -> VfioUserClient.open(pair[0], options));
        UnixSocket server = pair[1];
        try {
            FakeServer fake = new FakeServer(server, null);
            Message version = fake.receive();
            if (version.command() != Command.VERSION.code()) {
                throw new AssertionError("expected VERSION, got " + version.command());
            }
            fake.reply(version, new Version(0, 0, caps).toBytes(), versionFds);
            try {
                return new FakeServer(server, opening.get(10, TimeUnit.SECONDS));
            } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause() instanceof Exception cause ? cause : e;
            }
        } catch (Exception e) {
            server.close();
            throw e;
        }
    }

    Message receive() throws IOException {
        MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
        List<Fd> fds = new ArrayList<>();
        if (!socket.receiveFully(header, fds)) {
            throw new java.io.EOFException("client gone");
        }
        byte[] payload = new byte[(int) Header.payloadSize(header)];
        if (payload.length > 0) {
            socket.receiveFully(MemorySegment.ofArray(payload), fds);
        }
        return new Message(Header.msgId(header), Header.command(header), Header.flags(header), Header.error(header), payload, fds);
    }

    void reply(Message to, byte[] payload, List<Fd> fds) throws IOException {
        send(to.id(), to.command(), Header.TYPE_REPLY, 0, payload, fds);
    }

    void replyError(Message to, int errno) throws IOException {
        send(to.id(), to.command(), Header.TYPE_REPLY | Header.FLAG_ERROR, errno, new byte[0], List.of());
    }

    /** A server→client command. */
    void command(int id, Command command, byte[] payload, List<Fd> fds) throws IOException {
        send(id, command.code(), Header.TYPE_COMMAND, 0, payload, fds);
    }

    void send(int id, int command, int flags, int error, byte[] payload, List<Fd> fds) throws IOException {
        MemorySegment message = MemorySegment.ofArray(new byte[Header.SIZE + payload.length]);
        Header.write(message, id, command, message.byteSize(), flags, error);
        MemorySegment.copy(MemorySegment.ofArray(payload), 0, message, Header.SIZE, payload.length);
        socket.send(message, fds);
    }

    /** Raw bytes, e.g. a header that lies. */
    void sendRaw(byte[] bytes) throws IOException {
        socket.send(MemorySegment.ofArray(bytes));
    }

    interface Call<T> {
        T call() throws Exception;
    }

    static <T> CompletableFuture<T> async(Call<T> call) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return call.call();
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
        socket.close();
    }
}
