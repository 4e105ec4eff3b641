package io.jvfio.linux;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Buffered receive of length-framed messages from a {@link UnixSocket}: each recvmsg asks for as
 * much as the buffer holds, so a message usually arrives whole in one system call (header and
 * payload together), and bytes beyond it stay buffered for the next message.
 *
 * <p><b>Fds.</b> The kernel attaches SCM_RIGHTS fds to the first skb of the sendmsg that carried
 * them, hands them out with the first read that touches that skb, and ends that read right after
 * the skb (af_unix.c, {@code unix_stream_read_generic}: "if (scm.fp) break"). So the bytes a read
 * returns after the start of an fd-carrying skb all belong to that skb: the fds belong to the
 * message that contains the <em>last</em> byte the read returned. They are kept, keyed by that
 * byte's position in the stream, and given to that message when it is complete; never to another.
 * A peer that sends each message with one sendmsg (or starts a message's sendmsg with its fds)
 * gets exactly the old attribution; a peer that glues two messages into one sendmsg has its fds
 * given to the later one.
 *
 * <p>Not thread-safe: one reader at a time (the callers hold their own read lock). The segment
 * from {@link #message()} stays valid until the next {@link #next}.
 *
 * @param <E> what the framing throws for a bad header
 */
public final class MessageReceiver<E extends Exception> {
    /** Reads a message's whole length (header included) from its header; throws when the header is bad. */
    @FunctionalInterface
    public interface Framing<E extends Exception> {
        long messageLength(MemorySegment header) throws E;
    }

    /** What {@link #next} waits for. */
    public enum Wait {
        /** Until a whole message is there. */
        BLOCK,
        /** Not at all: one recvmsg with MSG_DONTWAIT if the buffer has no whole message. */
        DONT_WAIT,
        /** At most the socket's receive timeout ({@link UnixSocket#setReceiveTimeout}) per recvmsg. */
        TIMED,
        /**
         * Like {@link #TIMED}, but at most one recvmsg per call: {@link #NOTHING} when the message is
         * still incomplete after it. A caller that holds a begun message to a deadline gets control
         * back after each piece, however fast a slow peer trickles them.
         */
        TIMED_STEP,
        /** No system call: only a message already in the buffer. */
        BUFFERED
    }

    /**
     * A message the caller expects next, whose bytes after its first {@link #prefixSize()} should
     * go straight to {@link #target()} instead of the buffer (a large reply into the memory that
     * wants it, saving a copy). The guess may be wrong: the prefix is checked as soon as it is
     * there, and a message that does not match is put back together in the buffer. The target
     * may then have been written with bytes of that message. The target may belong to another
     * thread (a confined arena): the receiver writes it only while {@link #hold()} is held.
     */
    public interface Placement {
        /** Bytes at the start of the message that stay in the buffer (header and fixed fields). */
        int prefixSize();

        /** Where the rest of the message goes; exactly its size. */
        MemorySegment target();

        /** Whether {@code prefix} (the message's first {@link #prefixSize()} bytes) is the expected message's. */
        boolean matches(MemorySegment prefix);

        /**
         * Called before each receive into the target: false if the target may no longer be written
         * (the message then goes to the buffer). True obliges the caller to a {@link #release()}.
         */
        boolean hold();

        /** After each receive for which {@link #hold()} said true. */
        void release();
    }

    /**
     * A view of native {@code memory} that any thread may write, without the liveness and owner
     * checks of its arena: for memory another thread (a device blocked in its DMA) lends while a
     * {@link Placement#hold()} keeps it alive. Never use it outside such a hold.
     */
    public static MemorySegment heldView(MemorySegment memory) {
        if (!memory.isNative()) {
            throw new IllegalArgumentException("not native memory: " + memory);
        }
        return MemorySegment.ofAddress(memory.address()).reinterpret(memory.byteSize());
    }

    /** Results of {@link #next}. */
    public static final int MESSAGE = 1, END = 0, NOTHING = -1;

    /** More fds than this waiting for incomplete messages is no peer's honest traffic. */
    static final int MAX_PENDING_FDS = 4 * Libc.SCM_MAX_FD;
    /**
     * Received bytes up to this many, left behind the message before, are moved to the front of the
     * buffer before the next message is framed: a small copy that lets pipelined messages (posted
     * writes) start at offset 0 too, where their views are kept.
     */
    static final int MOVE_TO_FRONT_LIMIT = 1024;

    private final UnixSocket socket;
    private final int headerSize;
    private final long maxMessage;
    private final Framing<E> framing;
    private MemorySegment buffer;
    /** [start, end): received and not yet consumed; the current message (if any) starts at start. */
    private long start, end;
    /** Stream position of buffer offset 0. */
    private long base;
    /** Length of the message {@link #next} returned last, or -1. */
    private long current = -1;
    /** Fds received and not yet given to a message, and the stream position of the byte each belongs to. */
    private final List<Fd> pendingFds = new ArrayList<>(0);
    private long[] pendingAt = new long[0];
    private final List<Fd> arrived = new ArrayList<>(0);
    // Views of messages at offset 0, one per length: a stream of messages of mixed sizes allocates nothing.
    private final SliceCache headers = new SliceCache(0), messages = new SliceCache(0), bodies;
    private boolean closed;
    /**
     * The placement under way, or null. The message then starts at buffer offset 0 and its bytes
     * [prefix, prefix + target size) are in the target; the buffer keeps that room free, so the
     * stream stays laid out in the buffer as if they were there.
     */
    private Placement placing;
    private long placeFrom, placeTo;
    /** Whether the prefix was there and matched; whether the message {@link #next} returned last was placed. */
    private boolean placeConfirmed, currentPlaced;

    /**
     * @param buffer     native memory to receive into; grown (up to {@code maxMessage}) when a
     *                   message needs more
     * @param headerSize bytes of the header {@code framing} reads
     * @param maxMessage the largest message the framing admits
     */
    public MessageReceiver(UnixSocket socket, MemorySegment buffer, int headerSize, long maxMessage, Framing<E> framing) {
        if (!buffer.isNative() || buffer.byteSize() < headerSize || headerSize < 1 || maxMessage < headerSize) {
            throw new IllegalArgumentException("buffer of " + buffer.byteSize() + " bytes for headers of " + headerSize
                    + " and messages up to " + maxMessage);
        }
        this.socket = socket;
        this.buffer = buffer;
        this.headerSize = headerSize;
        this.maxMessage = maxMessage;
        this.framing = framing;
        this.bodies = new SliceCache(headerSize);
    }

    /**
     * Consumes the previous message and makes the next one current: {@link #MESSAGE} (see
     * {@link #message()}; its fds are appended to {@code fdsOut}, owned by the caller),
     * {@link #END} when the peer closed at a message boundary, {@link #NOTHING} when {@code wait}
     * gave up first (what arrived stays buffered). EOFException when the peer closed inside a
     * message; the framing's exception for a bad header. After an exception the stream is out of
     * step: close the connection (and call {@link #close()}).
     */
    public int next(List<Fd> fdsOut, Wait wait) throws IOException, E {
        return next(fdsOut, wait, null);
    }

    /**
     * {@link #next(List, Wait)}, and if no byte of the next message has arrived yet, the buffer
     * can hold it and the target is writable native memory, offers {@code placement} for it (see {@link Placement}; {@link #placed()} tells
     * whether it took). A placement under way from an earlier call that returned {@link #NOTHING}
     * goes on; {@code placement} is then ignored. Use only with {@link Wait#BLOCK}-free waits or a
     * placement whose target outlives the wait: the target is written while {@link Placement#hold()} is held.
     */
    public int next(List<Fd> fdsOut, Wait wait, Placement placement) throws IOException, E {
        if (closed) {
            throw LinuxException.explained("recvmsg", "receiver closed", Errno.EBADF);
        }
        if (current >= 0) {
            start += current;
            current = -1;
            currentPlaced = false;
        }
        if (start == end) { // nothing buffered: receive at the beginning again
            base += start;
            start = end = 0;
            if (placing == null && placement != null && wait != Wait.BUFFERED) {
                offer(placement);
            }
        } else if (start > 0 && placing == null && end - start <= MOVE_TO_FRONT_LIMIT) {
            moveToFront();
        }
        boolean received = false;
        while (end - start < headerSize) {
            if (received && wait == Wait.TIMED_STEP) {
                return NOTHING;
            }
            int r = fill(headerSize, wait);
            received = true;
            if (r <= 0) {
                if (r == 0 && end - start > 0) {
                    throw new EOFException("end of stream inside a message header (" + (end - start) + " of " + headerSize + " bytes)");
                }
                return r;
            }
        }
        long length = framing.messageLength(headerView());
        if (length < headerSize || length > maxMessage) {
            throw new IllegalStateException("framing returned length " + length + " outside [" + headerSize + ", " + maxMessage + "]");
        }
        while (end - start < length) {
            if (received && wait == Wait.TIMED_STEP) {
                return NOTHING;
            }
            int r = fill(length, wait);
            received = true;
            if (r < 0) {
                return NOTHING;
            }
            if (r == 0) {
                throw new EOFException("end of stream inside a message (" + (end - start) + " of " + length + " bytes)");
            }
        }
        current = length;
        if (placing != null) {
            currentPlaced = placeConfirmed && length == placeTo;
            placing = null;
        }
        claimFds(fdsOut, base + start, base + start + length);
        return MESSAGE;
    }

    /** Takes {@code placement} for the message about to arrive at the front of the empty buffer, if it can. */
    private void offer(Placement placement) {
        MemorySegment target = placement.target();
        long to = (long) placement.prefixSize() + target.byteSize();
        // Only native memory can take a recvmsg directly (a heap target gets the copy as before).
        if (placement.prefixSize() >= headerSize && target.byteSize() > 0 && target.isNative() && !target.isReadOnly()
                && to <= maxMessage && to <= buffer.byteSize()) {
            placing = placement;
            placeFrom = placement.prefixSize();
            placeTo = to;
            placeConfirmed = false;
        }
    }

    /**
     * Whether the current message's bytes after the placement's prefix are in the placement's
     * target (and not in {@link #message()}, whose view shows other bytes there).
     */
    public boolean placed() {
        checkCurrent();
        return currentPlaced;
    }

    /** The current message, header included: valid until the next {@link #next}. */
    public MemorySegment message() {
        checkCurrent();
        return start == 0 ? messages.of(buffer, current) : buffer.asSlice(start, current);
    }

    /** The current message after its header. */
    public MemorySegment body() {
        checkCurrent();
        long size = current - headerSize;
        return start == 0 ? bodies.of(buffer, size) : buffer.asSlice(start + headerSize, size);
    }

    /** Bytes received beyond the current message (part or all of later messages). */
    public long buffered() {
        return end - start - Math.max(0, current);
    }

    /**
     * Whether {@link #absorb} has room: the buffer has free space, can be compacted or grown. The
     * current message (if any) must no longer be needed: absorbing may move it.
     */
    public boolean canAbsorb() {
        return !closed && (end < buffer.byteSize() || start > 0 || buffer.byteSize() < maxMessage);
    }

    /**
     * Receives what is there (MSG_DONTWAIT) into the buffer, for later {@link #next} calls, without
     * framing it: for a thread that must keep reading while it waits to send. The current message
     * (if any) must no longer be needed: it may be moved. False at end of stream or without room.
     */
    public boolean absorb() throws IOException {
        if (!canAbsorb()) {
            return false;
        }
        if (end == buffer.byteSize()) {
            makeRoom(buffer.byteSize() - start < buffer.byteSize() ? buffer.byteSize() - start + 1
                    : Math.min(maxMessage, buffer.byteSize() + 1));
        }
        return fill(0, Wait.DONT_WAIT) != END;
    }

    /**
     * The bytes received beyond the current message (later messages, the last maybe partial), for a
     * successor process to {@link #preload}; null if they cannot all be had from the buffer: a
     * placement is under way (some are in its target), or fds wait for a message not yet returned.
     */
    public MemorySegment unconsumed() {
        if (placing != null || !pendingFds.isEmpty()) {
            return null;
        }
        long from = start + Math.max(0, current);
        return buffer.asSlice(from, end - from);
    }

    /**
     * Puts {@code bytes} (another receiver's {@link #unconsumed()}, possibly with whole messages
     * before it: several messages may exceed the largest one) ahead of anything the socket
     * delivers; only before the first {@link #next}.
     */
    public void preload(MemorySegment bytes) {
        if (current >= 0 || end > start) {
            throw new IllegalStateException("preload after receiving");
        }
        base += start;
        start = end = 0;
        if (bytes.byteSize() > buffer.byteSize()) {
            buffer = Arena.ofAuto().allocate(bytes.byteSize(), 8);
        }
        MemorySegment.copy(bytes, 0, buffer, 0, bytes.byteSize());
        end = bytes.byteSize();
    }

    /** Closes the fds still waiting for their message; the receiver cannot be used any more. */
    public void close() {
        closed = true;
        pendingFds.forEach(Fd::close);
        pendingFds.clear();
        arrived.forEach(Fd::close);
        arrived.clear();
    }

    private void checkCurrent() {
        if (current < 0) {
            throw new IllegalStateException("no current message");
        }
    }

    private MemorySegment headerView() {
        return start == 0 ? headers.of(buffer, headerSize) : buffer.asSlice(start, headerSize);
    }

    /**
     * One recvmsg into the free end of the buffer, after making room for a message of
     * {@code need} bytes from {@code start}. Returns 1 after data, 0 at end of stream, -1 when
     * {@code wait} gave up.
     */
    private int fill(long need, Wait wait) throws IOException {
        if (wait == Wait.BUFFERED) {
            return NOTHING;
        }
        long n;
        if (placing != null && end < placeTo) {
            n = fillPlaced(wait);
        } else {
            makeRoom(need);
            try {
                n = socket.receiveInto(buffer, end, buffer.byteSize() - end, arrived, wait);
            } catch (IOException | RuntimeException e) {
                arrived.forEach(Fd::close);
                arrived.clear();
                throw e;
            }
        }
        if (n < 0) {
            return NOTHING;
        }
        if (!arrived.isEmpty()) {
            // They belong to the message that holds the last byte this read returned.
            long at = base + end + Math.max(n, 1) - 1;
            int first = pendingFds.size();
            if (pendingAt.length < first + arrived.size()) {
                pendingAt = Arrays.copyOf(pendingAt, Math.max(8, 2 * (first + arrived.size())));
            }
            for (int i = 0; i < arrived.size(); i++) {
                pendingAt[first + i] = at;
            }
            pendingFds.addAll(arrived);
            arrived.clear();
            if (pendingFds.size() > MAX_PENDING_FDS) {
                throw LinuxException.explained("recvmsg", pendingFds.size() + " fds wait for messages that have not arrived",
                        Errno.EMSGSIZE);
            }
        }
        if (n == 0) {
            return END;
        }
        end += n;
        return MESSAGE;
    }

    /**
     * One recvmsg of the placed message, no further: the rest of its prefix into the buffer and the
     * rest of its payload into the target, with the target held. Checks the prefix as soon as it
     * is there; a mismatch (or a target no longer to be written) ends the placement, what went to
     * the target is copied to its place in the buffer, and the message goes on in the buffer.
     */
    private long fillPlaced(Wait wait) throws IOException {
        Placement p = placing;
        boolean held = p.hold();
        try {
            if (!held) {
                placing = null; // the stream goes on in the buffer, which has room for the message
                return socket.receiveInto(buffer, end, placeTo - end, arrived, wait);
            }
            MemorySegment target = p.target();
            long n = end < placeFrom
                    ? socket.receiveInto(buffer, end, placeFrom - end, target, 0, target.byteSize(), arrived, wait)
                    : socket.receiveInto(target, end - placeFrom, placeTo - end, arrived, wait);
            long now = end + Math.max(0, n);
            if (!placeConfirmed && now >= placeFrom) {
                if (p.matches(messages.of(buffer, placeFrom))) { // the prefix: a view kept like a message's
                    placeConfirmed = true;
                } else {
                    if (now > placeFrom) { // not the expected message: its bytes go where they belong
                        MemorySegment.copy(heldView(target), 0, buffer, placeFrom, now - placeFrom);
                    }
                    placing = null;
                }
            }
            return n;
        } catch (IOException | RuntimeException e) {
            arrived.forEach(Fd::close);
            arrived.clear();
            throw e;
        } finally {
            if (held) {
                p.release();
            }
        }
    }

    /** Makes [start, start + need) fit the buffer: moves the partial message to the front, or grows the buffer. */
    private void makeRoom(long need) {
        if (start + need <= buffer.byteSize() && end < buffer.byteSize()) {
            return;
        }
        if (need > buffer.byteSize()) {
            long size = Math.min(maxMessage, Math.max(need, 2 * buffer.byteSize()));
            MemorySegment grown = Arena.ofAuto().allocate(size, 8);
            MemorySegment.copy(buffer, start, grown, 0, end - start);
            buffer = grown;
            base += start;
            end -= start;
            start = 0;
        } else {
            moveToFront();
        }
    }

    /** Moves [start, end) to the front of the buffer; stream positions stay as they were. */
    private void moveToFront() {
        if (start > 0) {
            MemorySegment.copy(buffer, start, buffer, 0, end - start);
        }
        base += start;
        end -= start;
        start = 0;
    }

    /** Moves the pending fds that belong to [from, to) (stream positions) to {@code fdsOut}. */
    private void claimFds(List<Fd> fdsOut, long from, long to) {
        int taken = 0;
        while (taken < pendingFds.size() && pendingAt[taken] < to) {
            Fd fd = pendingFds.get(taken);
            if (pendingAt[taken] >= from) {
                fdsOut.add(fd);
            } else {
                fd.close(); // cannot happen: an earlier message would have taken it
            }
            taken++;
        }
        if (taken > 0) {
            pendingFds.subList(0, taken).clear();
            System.arraycopy(pendingAt, taken, pendingAt, 0, pendingFds.size());
        }
    }
}
