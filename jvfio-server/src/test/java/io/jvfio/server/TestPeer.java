package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.Version;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;

/**
 * A raw vfio-user client for tests: frames messages by hand over a {@link UnixSocket}, so a test can
 * send anything (bad sizes, stray fds, pipelined commands) and see exactly what comes back. Messages
 * the server sends on its own (DMA_READ/WRITE) are set aside while a test waits for a reply, and
 * can be taken later with {@link #nextServerCommand()}.
 */
final class TestPeer implements AutoCloseable {
    static final int POLLIN = 1;
    /** Every wait of the peer is bounded by this. */
    static final int WAIT_MILLIS = 10_000;
    /** QEMU 10.1's VERSION JSON, byte for byte. */
    static final String QEMU_JSON = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,"
            + "\"pgsizes\":4096,\"max_dma_maps\":65535,\"write_multiple\":true,"
            + "\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456}}}";

    /** One received message; close it to close the fds it carried. */
    record Msg(int id, int command, int flags, int error, byte[] payload, List<Fd> fds) implements AutoCloseable {
        boolean isReply() {
            return (flags & Header.FLAG_TYPE_MASK) == Header.TYPE_REPLY;
        }

        boolean isError() {
            return (flags & Header.FLAG_ERROR) != 0;
        }

        int size() {
            return Header.SIZE + payload.length;
        }

        MemorySegment seg() {
            return MemorySegment.ofArray(payload.clone());
        }

        long u64(int offset) {
            return seg().get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
        }

        int u32(int offset) {
            return seg().get(ValueLayout.JAVA_INT_UNALIGNED, offset);
        }

        @Override
        public void close() {
            fds.forEach(Fd::close);
        }

        @Override
        public String toString() {
            return "Msg[id=%d cmd=%d flags=0x%x error=%d payload=%d fds=%d]".formatted(id, command, flags, error,
                    payload.length, fds.size());
        }
    }

    private final UnixSocket socket;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment header = arena.allocate(Header.SIZE, 8);
    private final Deque<Msg> stashed = new ArrayDeque<>();
    private int nextId = 0x100;

    TestPeer(UnixSocket socket) {
        this.socket = socket;
    }

    static TestPeer connect(Path path) throws LinuxException {
        return new TestPeer(UnixSocket.connect(path));
    }

    UnixSocket socket() {
        return socket;
    }

    // ---------------------------------------------------------------- sending

    static byte[] bytes(Payload payload) {
        byte[] b = new byte[Math.toIntExact(payload.encodedSize())];
        payload.encode(MemorySegment.ofArray(b));
        return b;
    }

    static byte[] message(int id, int command, int flags, int error, byte[] payload) {
        byte[] m = new byte[Header.SIZE + payload.length];
        MemorySegment s = MemorySegment.ofArray(m);
        Header.write(s, id, command, m.length, flags, error);
        MemorySegment.copy(payload, 0, s, ValueLayout.JAVA_BYTE, Header.SIZE, payload.length);
        return m;
    }

    /** Sends a command; returns its id. */
    int send(int command, byte[] payload, boolean noReply, List<Fd> fds) throws LinuxException {
        int id = nextId++ & 0xffff;
        sendRaw(message(id, command, noReply ? Header.FLAG_NO_REPLY : 0, 0, payload), fds);
        return id;
    }

    int send(Command command, byte[] payload) throws LinuxException {
        return send(command.code(), payload, false, List.of());
    }

    int send(Command command, Payload payload, Fd... fds) throws LinuxException {
        return send(command.code(), bytes(payload), false, List.of(fds));
    }

    void sendRaw(byte[] bytes) throws LinuxException {
        sendRaw(bytes, List.of());
    }

    void sendRaw(byte[] bytes, List<Fd> fds) throws LinuxException {
        socket.send(MemorySegment.ofArray(bytes), fds);
    }

    /** Answers a server command (DMA_READ/WRITE) with {@code payload}. */
    void reply(Msg request, byte[] payload) throws LinuxException {
        sendRaw(message(request.id(), request.command(), Header.TYPE_REPLY, 0, payload));
    }

    void replyError(Msg request, int errno) throws LinuxException {
        sendRaw(message(request.id(), request.command(), Header.TYPE_REPLY | Header.FLAG_ERROR, errno, new byte[0]));
    }

    // ---------------------------------------------------------------- receiving

    /** The next message from the wire (not the stash); fails if none arrives within the bound or the server hung up. */
    Msg receive() throws IOException {
        Msg m = receiveOrEof();
        assertThat(m).as("a message from the server (it closed the connection)").isNotNull();
        return m;
    }

    /** The next message, or null if the server closed the connection. */
    Msg receiveOrEof() throws IOException {
        int revents = Linux.poll(socket.fd(), POLLIN, WAIT_MILLIS);
        assertThat(revents).as("a message or end of stream within %d ms", WAIT_MILLIS).isNotZero();
        List<Fd> fds = new ArrayList<>();
        try {
            if (!socket.receiveFully(header, fds)) {
                return null;
            }
        } catch (LinuxException e) {
            if (e.errno() == Errno.ECONNRESET) {
                return null; // the server closed with our bytes unread: a hang-up too
            }
            throw e;
        }
        long size = Header.messageSize(header);
        assertThat(size).as("msg_size from the server").isBetween((long) Header.SIZE, 64L << 20);
        byte[] payload = new byte[(int) (size - Header.SIZE)];
        if (payload.length > 0) {
            MemorySegment p = arena.allocate(payload.length);
            assertThat(socket.receiveFully(p, fds)).isTrue();
            MemorySegment.copy(p, ValueLayout.JAVA_BYTE, 0, payload, 0, payload.length);
        }
        return new Msg(Header.msgId(header), Header.command(header), Header.flags(header), Header.error(header),
                payload, fds);
    }

    /** True when the server closed the connection (reads nothing but end of stream). */
    boolean serverHungUp() throws IOException {
        while (true) {
            Msg m = receiveOrEof();
            if (m == null) {
                return true;
            }
            m.close();
        }
    }

    /** Waits for the reply with {@code id}; server commands arriving meanwhile are stashed. Fails on any other reply. */
    Msg replyTo(int id) throws IOException {
        while (true) {
            Msg m = receive();
            if (!m.isReply()) {
                stashed.addLast(m);
                continue;
            }
            assertThat(m.id()).as("reply id (replies come in command order)").isEqualTo(id);
            return m;
        }
    }

    /** The next server command (DMA_READ/WRITE), from the stash or the wire; fails on a reply. */
    Msg nextServerCommand() throws IOException {
        Msg m = stashed.pollFirst();
        if (m == null) {
            m = receive();
        }
        assertThat(m.isReply()).as("expected a command from the server, got %s", m).isFalse();
        return m;
    }

    boolean hasStashed() {
        return !stashed.isEmpty();
    }

    /** Sends and waits for the reply; asserts it is a successful reply with the same command. */
    Msg call(Command command, byte[] payload) throws IOException {
        Msg m = replyTo(send(command, payload));
        assertThat(m.command()).isEqualTo(command.code());
        assertThat(m.isError()).as("%s failed with errno %d", command, m.error()).isFalse();
        return m;
    }

    Msg call(Command command, Payload payload, Fd... fds) throws IOException {
        Msg m = replyTo(send(command, payload, fds));
        assertThat(m.command()).isEqualTo(command.code());
        assertThat(m.isError()).as("%s failed with errno %d", command, m.error()).isFalse();
        return m;
    }

    /** Sends and expects an error reply; returns its errno. Closes any fds that came with it. */
    int callError(Command command, byte[] payload, List<Fd> fds) throws IOException {
        try (Msg m = replyTo(send(command.code(), payload, false, fds))) {
            assertThat(m.isError()).as("%s should fail", command).isTrue();
            assertThat(m.payload()).as("an error reply is header-only").isEmpty();
            assertThat(m.fds()).isEmpty();
            return m.error();
        }
    }

    int callError(Command command, Payload payload) throws IOException {
        return callError(command, bytes(payload), List.of());
    }

    // ---------------------------------------------------------------- common exchanges

    static byte[] versionPayload(int major, int minor, String json) {
        byte[] j = json == null ? new byte[0] : (json + "\0").getBytes(StandardCharsets.UTF_8);
        byte[] p = new byte[Version.FIXED_SIZE + j.length];
        MemorySegment s = MemorySegment.ofArray(p);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) major);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) minor);
        System.arraycopy(j, 0, p, Version.FIXED_SIZE, j.length);
        return p;
    }

    /** VERSION 0.0 with QEMU's capabilities. */
    TestPeer negotiate() throws IOException {
        return negotiate(QEMU_JSON);
    }

    TestPeer negotiate(String json) throws IOException {
        call(Command.VERSION, versionPayload(0, 0, json)).close();
        return this;
    }

    static byte[] regionRead(int region, long offset, long count) {
        byte[] p = new byte[RegionAccess.SIZE];
        RegionAccess.write(MemorySegment.ofArray(p), offset, region, count);
        return p;
    }

    static byte[] regionWrite(int region, long offset, byte[] data) {
        byte[] p = Arrays.copyOf(new byte[RegionAccess.SIZE], RegionAccess.SIZE + data.length);
        RegionAccess.write(MemorySegment.ofArray(p), offset, region, data.length);
        System.arraycopy(data, 0, p, RegionAccess.SIZE, data.length);
        return p;
    }

    /** REGION_READ; returns the data. */
    byte[] read(int region, long offset, int count) throws IOException {
        try (Msg m = call(Command.REGION_READ, regionRead(region, offset, count))) {
            assertThat(m.payload().length).isEqualTo(RegionAccess.SIZE + count);
            return Arrays.copyOfRange(m.payload(), RegionAccess.SIZE, m.payload().length);
        }
    }

    void write(int region, long offset, byte[] data) throws IOException {
        call(Command.REGION_WRITE, regionWrite(region, offset, data)).close();
    }

    private boolean closed;

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Iterator<Msg> it = stashed.iterator(); it.hasNext(); ) {
            it.next().close();
        }
        stashed.clear();
        socket.close();
        arena.close();
    }
}
