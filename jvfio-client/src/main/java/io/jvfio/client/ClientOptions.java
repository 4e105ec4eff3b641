package io.jvfio.client;

import java.time.Duration;

/**
 * How a client talks to its server.
 *
 * @param callTimeout     how long a call waits for its reply (each call may override it)
 * @param maxMsgFds       most fds the client accepts in one message (advertised)
 * @param maxDataXferSize largest DMA_READ/WRITE count the client accepts (advertised); the client
 *                        also never asks for more than this in one REGION_READ, so no reply it
 *                        expects is larger than this plus a few headers
 * @param offerTwinSocket whether to offer twin-socket mode (server→client DMA requests on a
 *                        second socket); used only if the server agrees
 */
public record ClientOptions(Duration callTimeout, int maxMsgFds, long maxDataXferSize, boolean offerTwinSocket) {
    public ClientOptions {
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("callTimeout must be positive: " + callTimeout);
        }
        if (maxMsgFds < 1 || maxMsgFds > 253) {
            throw new IllegalArgumentException("maxMsgFds must be in [1, 253]: " + maxMsgFds);
        }
        if (maxDataXferSize < 1 || maxDataXferSize > Integer.MAX_VALUE - 65536) {
            throw new IllegalArgumentException("maxDataXferSize out of range: " + maxDataXferSize);
        }
    }

    /** Without the twin-socket choice: it is offered. */
    public ClientOptions(Duration callTimeout, int maxMsgFds, long maxDataXferSize) {
        this(callTimeout, maxMsgFds, maxDataXferSize, true);
    }

    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(10), 16, 1 << 20, true);
    }

    public ClientOptions withCallTimeout(Duration timeout) {
        return new ClientOptions(timeout, maxMsgFds, maxDataXferSize, offerTwinSocket);
    }

    public ClientOptions withMaxMsgFds(int max) {
        return new ClientOptions(callTimeout, max, maxDataXferSize, offerTwinSocket);
    }

    public ClientOptions withMaxDataXferSize(long max) {
        return new ClientOptions(callTimeout, maxMsgFds, max, offerTwinSocket);
    }

    public ClientOptions withTwinSocket(boolean offer) {
        return new ClientOptions(callTimeout, maxMsgFds, maxDataXferSize, offer);
    }

    /** The largest message the client accepts from the server. */
    long maxIncomingMessage() {
        return maxDataXferSize + 4096;
    }
}
