package io.jvfio.server.handover;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixSocket;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The control connection between a running server and its successor: frames of a kind, a body
 * and fds (SCM_RIGHTS). A frame is {magic u32, kind u32, fd count u32, body length u32} then the
 * body; its fds ride on the header, at most {@link #FDS_PER_SEND} per sendmsg (the kernel takes
 * 253), the rest on one-byte continuation sends.
 *
 * <p>The exchange: the successor sends {@link #HELLO}; the running server, at a message boundary
 * with its device stopped, sends {@link #STATE}; the successor loads it and keeps its device
 * stopped, answering {@link #LOADED} (or {@link #REFUSED} with the reason: the old one runs on);
 * the old server answers {@link #COMMIT}, after which it never runs the device again, and only on
 * receiving it does the successor start the device and read the client. Either side may say
 * {@link #REFUSED} instead, up to the COMMIT. A COMMIT frame is one header, sent by one sendmsg: a
 * send that fails delivered nothing the successor could take for a COMMIT.
 */
final class HandoverWire implements AutoCloseable {
    static final int HELLO = 1, STATE = 2, LOADED = 3, REFUSED = 4, COMMIT = 5;
    private static final int POLLIN = 1;
    private static final int MAGIC = 0x4a564849; // "JVHI"
    private static final int HEADER = 16;
    static final int FDS_PER_SEND = 250;
    /** A device's state is far smaller (see DeviceMigration.MAX_STREAM_BYTES); anything larger is no honest peer. */
    private static final int MAX_BODY = 300 << 20;
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final UnixSocket socket;

    /** A frame received: its body, and its fds (owned by the receiver). */
    record Frame(int kind, byte[] body, List<Fd> fds) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    HandoverWire(UnixSocket socket) {
        this.socket = socket;
        socket.setMaxReceiveFds(FDS_PER_SEND);
    }

    void send(int kind, String text) throws LinuxException {
        send(kind, text.getBytes(StandardCharsets.UTF_8), List.of());
    }

    /** Sends one frame; the fds stay the caller's. */
    void send(int kind, byte[] body, List<Fd> fds) throws LinuxException {
        // One segment: a heap header and a heap body sent together would share the socket's bounce buffer.
        MemorySegment frame = MemorySegment.ofArray(new byte[HEADER + body.length]);
        frame.set(LE_INT, 0, MAGIC);
        frame.set(LE_INT, 4, kind);
        frame.set(LE_INT, 8, fds.size());
        frame.set(LE_INT, 12, body.length);
        MemorySegment.copy(MemorySegment.ofArray(body), 0, frame, HEADER, body.length);
        int first = Math.min(fds.size(), FDS_PER_SEND);
        socket.send(frame, fds.subList(0, first));
        MemorySegment filler = MemorySegment.ofArray(new byte[1]);
        for (int from = first; from < fds.size(); from += FDS_PER_SEND) {
            socket.send(filler, fds.subList(from, Math.min(fds.size(), from + FDS_PER_SEND)));
        }
    }

    /** Whether a frame (or the peer's close) arrives within {@code millis}. */
    boolean awaitInput(int millis) throws LinuxException {
        return Linux.poll(socket.fd(), POLLIN, millis) != 0;
    }

    /** The next frame; EOFException if the peer closed first. */
    Frame receive() throws IOException {
        List<Fd> fds = new ArrayList<>();
        try {
            byte[] head = new byte[HEADER];
            MemorySegment header = MemorySegment.ofArray(head);
            if (!socket.receiveFully(header, fds)) {
                throw new EOFException("the peer closed the control connection");
            }
            if (header.get(LE_INT, 0) != MAGIC) {
                throw new IOException("not a jvfio hand-over peer (bad magic 0x%x)".formatted(header.get(LE_INT, 0)));
            }
            int kind = header.get(LE_INT, 4);
            int fdCount = header.get(LE_INT, 8);
            int length = header.get(LE_INT, 12);
            if (length < 0 || length > MAX_BODY || fdCount < 0) {
                throw new IOException("hand-over frame of %d bytes and %d fds".formatted(length & 0xffffffffL, fdCount));
            }
            byte[] body = new byte[length];
            if (length > 0 && !socket.receiveFully(MemorySegment.ofArray(body), fds)) {
                throw new EOFException("the peer closed the control connection inside a frame");
            }
            MemorySegment filler = MemorySegment.ofArray(new byte[1]);
            while (fds.size() < fdCount) {
                if (!socket.receiveFully(filler, fds)) {
                    throw new EOFException("the peer closed the control connection with %d of %d fds sent"
                            .formatted(fds.size(), fdCount));
                }
            }
            if (fds.size() != fdCount) {
                throw new IOException("hand-over frame announced %d fds, %d came".formatted(fdCount, fds.size()));
            }
            return new Frame(kind, body, fds);
        } catch (IOException | RuntimeException e) {
            fds.forEach(Fd::close);
            throw e;
        }
    }

    /** The next frame, which must be of {@code kind}; a REFUSED frame becomes an exception with its reason. */
    Frame expect(int kind) throws IOException {
        Frame f = receive();
        if (f.kind() == kind) {
            return f;
        }
        f.fds().forEach(Fd::close);
        if (f.kind() == REFUSED) {
            throw new IOException("the peer refused the hand-over: " + f.text());
        }
        throw new IOException("hand-over frame of kind %d where %d was expected".formatted(f.kind(), kind));
    }

    @Override
    public void close() {
        socket.close();
    }
}
