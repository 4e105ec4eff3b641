package io.jvfio.server.internal;

import io.jvfio.linux.LinuxException;
import io.jvfio.server.Deadlines;
import java.io.IOException;

/**
 * The session's deadlines on its client's input: VERSION within the handshake deadline of
 * connecting, and the rest of a message within the message deadline of its first byte. Between
 * messages a negotiated client may idle for ever. Checked by the session thread after each
 * receive that left a message incomplete (the receives then return after every piece, see
 * {@code MessageReceiver.Wait.TIMED_STEP}), so it costs the hot path nothing: a message that
 * arrives whole never comes here.
 */
final class ReadDeadlines {
    /** Disconnects the client: it missed a deadline. */
    static final class StalledClientException extends IOException {
        StalledClientException(String message) {
            super(message);
        }
    }

    private final long handshakeNanos, messageNanos;   // 0: no deadline
    private final long connectedAt = System.nanoTime();
    /** When the message under way was first seen incomplete, if {@link #inMessage}. */
    private long messageSeenAt;
    private boolean inMessage;

    ReadDeadlines(Deadlines deadlines) {
        this.handshakeNanos = deadlines.handshake().toNanos();
        this.messageNanos = deadlines.message().toNanos();
    }

    boolean enabled() {
        return handshakeNanos > 0 || messageNanos > 0;
    }

    /** A whole message came; before VERSION was answered it must still be within the handshake deadline. */
    void messageReceived(boolean negotiated) throws StalledClientException {
        inMessage = false;
        if (!negotiated && handshakeNanos > 0 && System.nanoTime() - connectedAt > handshakeNanos) {
            throw new StalledClientException("no VERSION within the handshake deadline of " + LogFormat.duration(handshakeNanos)
                    + " (the first message came after it)");
        }
    }

    /**
     * After a receive that returned no whole message: throws when the client missed a deadline;
     * otherwise, with no message begun, waits for input up to {@code waitMillis} (0: not at all;
     * -1: for ever once negotiated, else until the handshake deadline), so an idle session does not spin.
     */
    void check(SessionTransport transport, boolean negotiated, int waitMillis) throws StalledClientException, LinuxException {
        long now = System.nanoTime();
        long partial = transport.buffered();
        if (!negotiated && handshakeNanos > 0 && now - connectedAt > handshakeNanos) {
            throw new StalledClientException("no VERSION within the handshake deadline of " + LogFormat.duration(handshakeNanos)
                    + " (received " + (partial == 0 ? "nothing" : transport.describePartial()) + ")");
        }
        if (partial > 0) {
            if (!inMessage) {
                inMessage = true;
                messageSeenAt = now;
            } else if (messageNanos > 0 && now - messageSeenAt > messageNanos) {
                throw new StalledClientException("message not finished within the message deadline of "
                        + LogFormat.duration(messageNanos) + " (received " + transport.describePartial() + ")");
            }
            return; // the next stepped receive waits for the rest (at most the socket's receive timeout)
        }
        inMessage = false;
        if (waitMillis != 0) {
            // Milliseconds to the handshake deadline (it has not passed: checked above); -1: none.
            long left = negotiated || handshakeNanos == 0 ? -1 : (handshakeNanos - (now - connectedAt)) / 1_000_000 + 1;
            if (waitMillis > 0 && (left < 0 || left > waitMillis)) {
                left = waitMillis;
            }
            transport.awaitInput((int) Math.min(Integer.MAX_VALUE, left));
        }
    }
}
