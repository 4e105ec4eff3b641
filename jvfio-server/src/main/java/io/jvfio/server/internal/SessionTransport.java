package io.jvfio.server.internal;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.protocol.ProtocolException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * What a session reads messages from and writes them to — jvfio's form of libvfio-user's
 * transport ops. The session frames nothing itself: it asks for the next whole message, and sends
 * whole messages (with fds). {@link UnixSocketTransport} is the one implementation.
 */
interface SessionTransport extends AutoCloseable {
    /** {@link #receive} results: a message is ready, the client closed cleanly, nothing yet. */
    int MESSAGE = MessageReceiver.MESSAGE, END = MessageReceiver.END, NOTHING = MessageReceiver.NOTHING;

    /**
     * Receives the next whole message (see {@link #message()}), its fds added to {@code fdsOut}.
     * With a {@code placement} a DMA_READ reply it matches has its data received straight into the
     * placement's target ({@link #placed()} then says so).
     */
    int receive(List<Fd> fdsOut, MessageReceiver.Wait wait, MessageReceiver.Placement placement) throws IOException, ProtocolException;

    /** The message the last {@link #receive} returned; valid until the next receive. */
    MemorySegment message();

    /** Whether the last message's data went to its placement rather than into {@link #message()}. */
    boolean placed();

    /** Bytes received after the last message {@link #receive} returned: the beginning of the next one. */
    long buffered();

    /** What has arrived of the message under way, for a log line: its header's fields once they are there. */
    String describePartial();

    /** Waits up to {@code millis} (-1: for ever) for input; false when none came. */
    boolean awaitInput(int millis) throws LinuxException;

    /** Sends one whole message with {@code fds}. */
    void send(MemorySegment message, List<Fd> fds) throws LinuxException;

    /** Sends one message made of {@code head} then {@code data} (a DMA_WRITE straight from the device's buffer). */
    void send(MemorySegment head, MemorySegment data) throws LinuxException;

    /** Who the client is. */
    PeerCredentials peer() throws LinuxException;

    /**
     * The bytes received and not yet returned by {@link #receive} (later messages, the last maybe
     * partial), for a live upgrade to hand on; null if they cannot be handed on as bytes (fds came with them).
     */
    MemorySegment unreturnedInput();

    /** Puts {@code bytes} (a predecessor's {@link #unreturnedInput()}) ahead of the connection's; before the first receive. */
    void preload(MemorySegment bytes);

    /**
     * Closes like {@link #close()} but leaves the connection up: a successor process that was sent
     * the socket goes on serving it.
     */
    void release();

    /** Wakes a receive on another thread: it ends as if the client had closed. */
    void shutdown();

    @Override
    void close();
}
