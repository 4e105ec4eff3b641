package io.jvfio.client;

import java.time.Duration;

/**
 * How a client talks to its server.
 *
 * @param callTimeout     how long a call waits for its reply
 * @param maxMsgFds       most fds the client accepts in one message (advertised)
 * @param maxDataXferSize largest DMA_READ/WRITE count the client accepts (advertised)
 */
public record ClientOptions(Duration callTimeout, int maxMsgFds, long maxDataXferSize) {
    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(10), 16, 1 << 20);
    }

    public ClientOptions withCallTimeout(Duration timeout) {
        return new ClientOptions(timeout, maxMsgFds, maxDataXferSize);
    }
}
