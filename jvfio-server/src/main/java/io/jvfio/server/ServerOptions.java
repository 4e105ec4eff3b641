package io.jvfio.server;

import io.jvfio.protocol.VersionCapabilities;
import java.time.Duration;
import java.util.Objects;
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
 * @param accessPolicy    which peers (by uid/gid) are served; others are disconnected before any message is read
 * @param deadlines       how long the server waits on a stalled client and on a stuck device callback
 */
public record ServerOptions(int socketMode, int maxDataXferSize, int maxMsgFds, int maxDmaWindows,
                            Duration dmaReplyTimeout, Optional<HypervisorLink> hypervisorLink, AccessPolicy accessPolicy,
                            Deadlines deadlines) {
    public static final int DEFAULT_MAX_DATA_XFER_SIZE = 1 << 20;

    public ServerOptions {
        Objects.requireNonNull(accessPolicy, "accessPolicy");
        Objects.requireNonNull(deadlines, "deadlines");
    }

    /** Options with the default {@link Deadlines}. */
    public ServerOptions(int socketMode, int maxDataXferSize, int maxMsgFds, int maxDmaWindows,
                         Duration dmaReplyTimeout, Optional<HypervisorLink> hypervisorLink, AccessPolicy accessPolicy) {
        this(socketMode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, hypervisorLink, accessPolicy, Deadlines.defaults());
    }

    /** Options with the default access policy ({@link AccessPolicy#ownerAndRoot()}). */
    public ServerOptions(int socketMode, int maxDataXferSize, int maxMsgFds, int maxDmaWindows,
                         Duration dmaReplyTimeout, Optional<HypervisorLink> hypervisorLink) {
        this(socketMode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, hypervisorLink, AccessPolicy.ownerAndRoot());
    }

    public static ServerOptions defaults() {
        return new ServerOptions(0600, DEFAULT_MAX_DATA_XFER_SIZE, 16, 1024, Duration.ofSeconds(10), Optional.empty());
    }

    public ServerOptions withSocketMode(int mode) {
        return new ServerOptions(mode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, hypervisorLink, accessPolicy, deadlines);
    }

    public ServerOptions withHypervisorLink(HypervisorLink link) {
        return new ServerOptions(socketMode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, Optional.of(link), accessPolicy, deadlines);
    }

    public ServerOptions withAccessPolicy(AccessPolicy policy) {
        return new ServerOptions(socketMode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, hypervisorLink, policy, deadlines);
    }

    public ServerOptions withDeadlines(Deadlines d) {
        return new ServerOptions(socketMode, maxDataXferSize, maxMsgFds, maxDmaWindows, dmaReplyTimeout, hypervisorLink, accessPolicy, d);
    }

    /**
     * The VERSION capabilities a server with these options answers with: its limits, and
     * write_multiple. A client whose VERSION leaves too little room gets fewer (see the session).
     */
    public VersionCapabilities versionCapabilities() {
        return VersionCapabilities.DEFAULTS.withMaxMsgFds(maxMsgFds).withMaxDataXferSize(maxDataXferSize).withWriteMultiple(true);
    }

    /** The largest message a client may send: a maximal region write plus its headers. */
    public long maxMessageSize() {
        return (long) maxDataXferSize + 4096;
    }

    /**
     * Native memory one session holds for its buffers: one incoming message and one reply, each
     * {@link #maxMessageSize()} (2 × (max_data_xfer_size + 4096); 2 MiB + 8 KiB by default). DMA
     * windows add address space (mmapped client memory), not heap.
     */
    public long sessionBufferBytes() {
        return 2 * maxMessageSize();
    }
}
