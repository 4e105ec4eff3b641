package io.jvfio.server;

import java.time.Duration;
import java.util.Optional;

/**
 * How a server behaves toward its clients.
 *
 * @param socketMode      permission bits of the socket file (0600: only the owner may connect)
 * @param maxDataXferSize largest REGION_READ/WRITE count this server accepts (advertised)
 * @param maxMsgFds       most fds this server accepts in one message (advertised)
 * @param maxDmaWindows   most DMA windows a client may have at once
 * @param dmaReplyTimeout how long a DMA_READ/WRITE waits for the client's reply
 * @param hypervisorLink  handed to devices at open, when an embedding application has one
 */
public record ServerOptions(int socketMode, int maxDataXferSize, int maxMsgFds, int maxDmaWindows,
                            Duration dmaReplyTimeout, Optional<HypervisorLink> hypervisorLink) {
    public static final int DEFAULT_MAX_DATA_XFER_SIZE = 1 << 20;

    public static ServerOptions defaults() {
        return new ServerOptions(0600, DEFAULT_MAX_DATA_XFER_SIZE, 16, 1024, Duration.ofSeconds(10), Optional.empty());
    }

    public ServerOptions withSocketMode(int mode) {
        return new ServerOptions(mode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, hypervisorLink);
    }

    public ServerOptions withHypervisorLink(HypervisorLink link) {
        return new ServerOptions(socketMode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, Optional.of(link));
    }

    /** The largest message a client may send: a maximal region write plus its headers. */
    long maxMessageSize() {
        return (long) maxDataXferSize + 4096;
    }
}
