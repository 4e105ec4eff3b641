package io.jvfio.server.internal;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.ProtocolException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;

/**
 * A session's messages over a connected UNIX socket: a buffered receiver that frames vfio-user
 * headers (usually a whole message per recvmsg), and sendmsg with SCM_RIGHTS fds.
 */
final class UnixSocketTransport implements SessionTransport {
    /**
     * SO_RCVTIMEO of the socket. A receive that places a reply's data in a device's buffer waits
     * at most this long, so a device that gives up on a DMA_READ waits at most this long before it
     * may free the buffer.
     */
    static final Duration PLACED_RECEIVE_TIMEOUT = Duration.ofMillis(100);
    private static final int POLLIN = 1;

    private final UnixSocket socket;
    /** The receive buffer: a shared memfd mapping, so only the pages messages touch become resident. */
    private final Mapping inMapping;
    private final MessageReceiver<ProtocolException> receiver;
    /** The last header framed: for {@link #describePartial()} when a client stalls after it. */
    private int framedCommand, framedId;
    private long framedSize;

    UnixSocketTransport(UnixSocket socket, long maxMessageSize, int maxFds) {
        this.socket = socket;
        this.inMapping = buffer("jvfio-session-in", maxMessageSize);
        this.receiver = new MessageReceiver<>(socket, inMapping.segment(), Header.SIZE, maxMessageSize, header -> {
            Header.validate(header, maxMessageSize);
            framedCommand = Header.command(header);
            framedId = Header.msgId(header);
            framedSize = Header.messageSize(header);
            return framedSize;
        });
        socket.setMaxReceiveFds(maxFds);
        try {
            socket.setReceiveTimeout(PLACED_RECEIVE_TIMEOUT);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot set the session socket's receive timeout: " + e.getMessage(), e);
        }
    }

    @Override
    public int receive(List<Fd> fdsOut, MessageReceiver.Wait wait, MessageReceiver.Placement placement)
            throws IOException, ProtocolException {
        return receiver.next(fdsOut, wait, placement);
    }

    @Override
    public MemorySegment message() {
        return receiver.message();
    }

    @Override
    public boolean placed() {
        return receiver.placed();
    }

    @Override
    public long buffered() {
        return receiver.buffered();
    }

    @Override
    public String describePartial() {
        long got = receiver.buffered();
        if (got < Header.SIZE) {
            return got + " of the " + Header.SIZE + " header bytes";
        }
        Command command = Command.orNull(framedCommand);
        return "%d of the %d bytes of message %d (%s)".formatted(got, framedSize, framedId,
                command != null ? command : "command " + framedCommand);
    }

    @Override
    public boolean awaitInput(int millis) throws LinuxException {
        return Linux.poll(socket.fd(), POLLIN, millis) != 0;
    }

    @Override
    public void send(MemorySegment message, List<Fd> fds) throws LinuxException {
        socket.send(message, fds);
    }

    @Override
    public void send(MemorySegment head, MemorySegment data) throws LinuxException {
        socket.send(head, data, List.of());
    }

    @Override
    public PeerCredentials peer() throws LinuxException {
        return socket.peerCredentials();
    }

    @Override
    public MemorySegment unreturnedInput() {
        return receiver.unconsumed();
    }

    @Override
    public void preload(MemorySegment bytes) {
        receiver.preload(bytes);
    }

    /** The connection, for a live upgrade to send to a successor. */
    UnixSocket socket() {
        return socket;
    }

    @Override
    public void release() {
        receiver.close();
        socket.release();
        inMapping.close();
    }

    @Override
    public void shutdown() {
        socket.shutdown();
    }

    @Override
    public void close() {
        receiver.close();
        socket.close();
        inMapping.close();
    }

    /**
     * A message buffer of {@code size} bytes. Zeroed heap or arena memory would be resident at once
     * (a megabyte or two per client, whatever the traffic); a memfd mapping costs what is used.
     */
    static Mapping buffer(String name, long size) {
        try (Fd fd = Memfd.create(name, size)) {
            return Mapping.map(fd, 0, size, true);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot allocate a session buffer: " + e.getMessage(), e);
        }
    }
}
