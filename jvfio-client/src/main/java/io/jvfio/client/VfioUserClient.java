package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.RegionIoFds;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.Version;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A connection to a vfio-user server: the VMM side of the protocol, usable by plain userspace, and
 * the vfio-user backend of {@link DeviceHandle}. This façade holds the typed calls (some in
 * {@link RegionAccessCalls}, {@link DmaCalls}, {@link MigrationCalls}); the messaging is
 * {@link CallChannel}'s, the server's own requests are {@link ServerRequests}'.
 *
 * <p>Calls may come from many threads at once; each waits, for at most its timeout, for the reply
 * carrying its own message id. The server's DMA_READ/DMA_WRITE requests are served from the memory
 * registered with {@link #registerMemory} or {@link #allocateDma} while the caller's own commands
 * are in flight, and the thread reading the socket never stops reading (no deadlock with a server
 * that blocks sending). In twin-socket mode (if the server offers it) those requests arrive on their
 * own socket.
 *
 * <p>When the server goes away, or sends something that cannot be framed, the connection is dead:
 * every waiting call fails at once with a {@link VfioUserException} (errno ENOTCONN) naming the
 * reason, and so does every later call.
 */
public final class VfioUserClient implements DeviceHandle {
    private static final System.Logger LOG = System.getLogger(VfioUserClient.class.getName());

    private final ClientOptions options;
    private final long maxIncoming;
    private final CallChannel channel;
    private final RegionAccessCalls regions;
    private final ServerRequests requests;
    private final MigrationCalls migration;
    private final DmaCalls dma;
    /** What was handed out (mappings, DMA buffers, interrupts), released with the client. */
    private final Set<AutoCloseable> resources = ConcurrentHashMap.newKeySet();
    private volatile VersionCapabilities serverCaps = VersionCapabilities.DEFAULTS;
    private volatile int serverMinor;

    /** A reply as received: header facts, payload bytes, fds (owned by the receiver). */
    public record Reply(int flags, int error, MemorySegment payload, List<Fd> fds) {
        /** Closes the fds; for callers that do not want them. */
        public void closeFds() {
            fds.forEach(Fd::close);
        }
    }

    /** DEVICE_GET_REGION_IO_FDS: the region's ioeventfds; the caller owns the fds that come with it. */
    public record IoFds(RegionIoFds info, List<Fd> fds) implements AutoCloseable {
        @Override
        public void close() {
            fds.forEach(Fd::close);
        }
    }

    private VfioUserClient(UnixSocket socket, ClientOptions options) throws LinuxException {
        this.options = options;
        this.maxIncoming = options.maxIncomingMessage();
        this.channel = new CallChannel(socket, options);
        this.regions = new RegionAccessCalls(channel);
        this.requests = new ServerRequests(channel, options);
        this.migration = new MigrationCalls(channel, options, this::transferChunk);
        this.dma = new DmaCalls(channel, requests.memory(), options, this::usable);
        channel.serveWith(requests);
    }

    // ---------------------------------------------------------------- connecting

    /** Connects to the server at {@code path} and negotiates the protocol version. */
    public static VfioUserClient connect(Path path) throws IOException {
        return connect(path, ClientOptions.defaults());
    }

    public static VfioUserClient connect(Path path, ClientOptions options) throws IOException {
        return open(UnixSocket.connect(path), options);
    }

    /**
     * Uses an inherited, already-connected socket fd (e.g. passed by a parent process); the client
     * owns it from now on. ENOTSOCK if it is not a socket.
     */
    public static VfioUserClient adopt(Fd fd, ClientOptions options) throws IOException {
        boolean socket;
        try {
            socket = Linux.isSocket(fd);
        } catch (LinuxException e) {
            fd.close();
            throw e;
        }
        if (!socket) {
            fd.close();
            throw new VfioUserException(Errno.ENOTSOCK, "inherited fd is not a socket");
        }
        return open(UnixSocket.adopt(fd), options);
    }

    /** Uses an already-connected socket (e.g. one end of a socketpair); the client owns it from now on. */
    public static VfioUserClient open(UnixSocket socket, ClientOptions options) throws IOException {
        VfioUserClient client;
        try {
            client = new VfioUserClient(socket, options);
        } catch (LinuxException | RuntimeException e) {
            socket.close();
            throw e;
        }
        client.channel.start();
        client.requests.start();
        try {
            Version v = Negotiation.negotiate(client.channel, client.requests, options);
            client.serverMinor = v.minor();
            client.serverCaps = v.capabilitiesOrDefaults();
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    /** What the server said it can take (its max_msg_fds, max_data_xfer_size, ...). */
    public VersionCapabilities serverCapabilities() {
        return serverCaps;
    }

    public int serverMinorVersion() {
        return serverMinor;
    }

    public ClientOptions options() {
        return options;
    }

    /** Whether server→client DMA requests travel on a second socket. */
    public boolean twinSocketActive() {
        return requests.twinActive();
    }

    /** Largest count of one REGION_READ/WRITE this client sends: both sides' limits. */
    @Override
    public long transferChunk() {
        return Math.max(1, Math.min(serverCaps.maxDataXferSize(), options.maxDataXferSize()));
    }

    // ---------------------------------------------------------------- device, regions, irqs

    /** DEVICE_GET_INFO with the 16-byte struct (what QEMU asks for). */
    @Override
    public DeviceInfo deviceInfo() throws IOException {
        return deviceInfo(DeviceInfo.SIZE);
    }

    /**
     * DEVICE_GET_INFO offering {@code argsz} bytes; 24 or more asks for the capability chain. If
     * the server needs more it says so in argsz and the call is repeated once with that size.
     */
    @Override
    public DeviceInfo deviceInfo(int argsz) throws IOException {
        checkArgsz(argsz, DeviceInfo.SIZE);
        for (int attempt = 0; ; attempt++) {
            int offered = argsz;
            Reply r = typedCall(Command.DEVICE_GET_INFO, DeviceInfo.request(offered), offered);
            DeviceInfo info = CallChannel.decode(() -> DeviceInfo.decode(r.payload()), "DEVICE_GET_INFO reply");
            long needed = ArgSz.unsigned(info.argsz());
            if (offered < DeviceInfo.SIZE_WITH_CAP_OFFSET || !info.truncated() || needed <= offered || attempt > 0) {
                return info;
            }
            if (needed > maxIncoming) {
                throw new VfioUserException(Errno.E2BIG, "DEVICE_GET_INFO: server needs " + needed
                        + " bytes, more than this client takes (" + maxIncoming + ")");
            }
            argsz = (int) needed;
        }
    }

    /** A region's info; the fd for mmap-able regions comes with it (see {@link RegionDescription}). */
    @Override
    public RegionDescription regionInfo(int index) throws IOException {
        int argsz = RegionInfo.SIZE;
        for (int attempt = 0; attempt < 2; attempt++) {
            int offered = argsz;
            Reply r = call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(offered, index), List.of(),
                    options.callTimeout(), offered, 1);
            RegionInfo info;
            try {
                info = CallChannel.decode(() -> RegionInfo.decode(r.payload()), "DEVICE_GET_REGION_INFO reply");
            } catch (IOException e) {
                r.closeFds();
                throw e;
            }
            if (!info.truncated()) {
                return new RegionDescription(info, r.fds().isEmpty() ? null : r.fds().getFirst());
            }
            r.closeFds();
            long needed = ArgSz.unsigned(info.argsz());
            if (needed > maxIncoming) {
                throw new VfioUserException(Errno.E2BIG, "region " + index + ": info needs " + needed
                        + " bytes, more than this client takes (" + maxIncoming + ")");
            }
            argsz = (int) needed;
        }
        throw new VfioUserException(Errno.EPROTO, "region " + index + ": server keeps asking for a larger argsz");
    }

    public IoFds regionIoFds(int index, int argsz) throws IOException {
        checkArgsz(argsz, RegionIoFds.SIZE);
        Reply r = call(Command.DEVICE_GET_REGION_IO_FDS, RegionIoFds.request(argsz, index), List.of(),
                options.callTimeout(), argsz, options.maxMsgFds());
        try {
            return new IoFds(CallChannel.decode(() -> RegionIoFds.decode(r.payload()), "DEVICE_GET_REGION_IO_FDS reply"), r.fds());
        } catch (IOException e) {
            r.closeFds();
            throw e;
        }
    }

    @Override
    public IrqInfo irqInfo(int index) throws IOException {
        Reply r = typedCall(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(index), IrqInfo.SIZE);
        IrqInfo info = CallChannel.decode(() -> IrqInfo.decode(r.payload()), "DEVICE_GET_IRQ_INFO reply");
        if (info.index() != index) {
            throw new VfioUserException(Errno.EPROTO, "DEVICE_GET_IRQ_INFO reply is for index " + info.index() + ", asked " + index);
        }
        return info;
    }

    // ---------------------------------------------------------------- region access

    /** REGION_READ of {@code dst.byteSize()} bytes, in as many messages as the two sides' transfer limits need. */
    @Override
    public void regionRead(int region, long offset, MemorySegment dst) throws IOException {
        regions.read(region, offset, dst, transferChunk());
    }

    /** Writes {@code src} to region {@code region} at {@code offset} and waits for the server. */
    @Override
    public void regionWrite(int region, long offset, MemorySegment src) throws IOException {
        regionWrite(region, offset, src, false);
    }

    /**
     * With {@code posted}, the writes carry NO_REPLY: the call returns once they are sent, and an
     * error the server meets is not reported. Commands are executed in order, so a later call's
     * reply means the posted writes before it were done.
     */
    public void regionWrite(int region, long offset, MemorySegment src, boolean posted) throws IOException {
        regions.write(region, offset, src, posted, transferChunk());
    }

    /**
     * REGION_WRITE_MULTI: up to 200 small writes (≤ 8 bytes each) in one message; only when the
     * server offered {@code write_multiple}. Returns how many the server completed.
     */
    public long regionWriteMulti(List<RegionWriteMulti.Entry> writes, boolean posted) throws IOException {
        if (!serverCaps.writeMultiple()) {
            throw new VfioUserException(Errno.ENOTSUP, "the server did not offer write_multiple");
        }
        return regions.writeMulti(writes, posted);
    }

    @Override
    public int read8(int region, long offset) throws IOException {
        return regions.read8(region, offset);
    }

    @Override
    public int read16(int region, long offset) throws IOException {
        return regions.read16(region, offset);
    }

    @Override
    public int read32(int region, long offset) throws IOException {
        return regions.read32(region, offset);
    }

    @Override
    public long read64(int region, long offset) throws IOException {
        return regions.read64(region, offset);
    }

    @Override
    public void write8(int region, long offset, int value) throws IOException {
        regions.write8(region, offset, value);
    }

    @Override
    public void write16(int region, long offset, int value) throws IOException {
        regions.write16(region, offset, value);
    }

    @Override
    public void write32(int region, long offset, int value) throws IOException {
        regions.write32(region, offset, value);
    }

    @Override
    public void write64(int region, long offset, long value) throws IOException {
        regions.write64(region, offset, value);
    }

    /**
     * Maps an mmap-able region from the fd the server sent with its info. ENOTSUP when the server
     * offers no mapping. The mapping ends with {@link MappedRegion#close()} or with this client.
     */
    @Override
    public MappedRegion mapRegion(int index) throws IOException {
        try (RegionDescription d = regionInfo(index)) {
            if (!d.mmappable()) {
                throw new VfioUserException(Errno.ENOTSUP, "region " + index + " is not mmap-able");
            }
            String outside = MappedRegion.areaOutside(index, d.info());
            if (outside != null) {
                throw new VfioUserException(Errno.EPROTO, outside);
            }
            MappedRegion region = MappedRegion.map(index, d, resources::remove);
            resources.add(region);
            if (channel.closing()) {
                region.close();
                throw channel.connectionGone();
            }
            return region;
        }
    }

    // ---------------------------------------------------------------- DMA

    /** DMA_MAP of client memory the server may map: {@code fd} at {@code fileOffset} backs [iova, iova+size). */
    public void dmaMap(long iova, long size, int flags, Fd fd, long fileOffset) throws IOException {
        dma.map(iova, size, flags, fd, fileOffset);
    }

    /**
     * Allocates {@code size} bytes of driver memory backed by a memfd, maps it here and DMA_MAPs it
     * at {@code iova} (READ|WRITE) with the fd, so the server can map it too. The same memory also
     * answers DMA_READ/WRITE messages should the server use those. {@link DmaBuffer#close()} unmaps
     * it on both sides.
     */
    @Override
    public DmaBuffer allocateDma(long iova, long size) throws IOException {
        DmaBuffer buffer = dma.allocate(iova, size, (b, mapping) -> {
            resources.remove(b);
            dma.release(b, mapping);
        });
        resources.add(buffer);
        return buffer;
    }

    /**
     * Registers {@code memory} at {@code iova} without an fd: the server reaches it only through
     * DMA_READ/DMA_WRITE messages, which this client serves, checked against bounds and {@code flags}.
     * The memory must stay alive until it is unmapped.
     */
    @Override
    public void registerMemory(long iova, MemorySegment memory, int flags) throws IOException {
        dma.register(iova, memory, flags);
    }

    @Override
    public void dmaUnmap(long iova, long size) throws IOException {
        dma.unmap(iova, size);
    }

    @Override
    public void dmaUnmapAll() throws IOException {
        dma.unmapAll();
    }

    // ---------------------------------------------------------------- interrupts

    /**
     * Wires {@code eventfds} as the TRIGGER fds of vectors start..start+n-1 of irq {@code index},
     * in chunks of the server's max_msg_fds. The caller keeps ownership of the eventfds.
     */
    @Override
    public void setIrqEventfds(int index, int start, List<EventFd> eventfds) throws IOException {
        int chunk = Math.max(1, serverCaps.maxMsgFds());
        for (int i = 0; i < eventfds.size(); i += chunk) {
            List<EventFd> part = eventfds.subList(i, Math.min(eventfds.size(), i + chunk));
            typedCall(Command.DEVICE_SET_IRQS, IrqSet.eventfds(index, Vfio.IRQ_SET_ACTION_TRIGGER, start + i, part.size()),
                    part.stream().map(EventFd::fd).toList(), 0);
        }
    }

    @Override
    public void setIrqs(IrqSet request) throws IOException {
        typedCall(Command.DEVICE_SET_IRQS, request, 0);
    }

    /**
     * Creates an eventfd for each of the first {@code count} vectors of irq {@code index}, wires them
     * with SET_IRQS and returns the helper that waits for, polls, or calls back on them.
     */
    @Override
    public Interrupts interrupts(int index, int count) throws IOException {
        Interrupts irqs = Interrupts.open(this, index, count, this::usable, resources::remove, VfioUserException::new);
        resources.add(irqs);
        return irqs;
    }

    // ---------------------------------------------------------------- reset, features, migration

    @Override
    public void reset() throws IOException {
        typedCall(Command.DEVICE_RESET, null, 0);
    }

    /** DEVICE_RESET with its own timeout: a reset may take long. */
    public void reset(Duration timeout) throws IOException {
        call(Command.DEVICE_RESET, null, List.of(), timeout, 0, 0);
    }

    /** DEVICE_FEATURE; returns the reply (for GET the data is appended). */
    @Override
    public DeviceFeature feature(DeviceFeature request) throws IOException {
        return migration.feature(request);
    }

    /** DEVICE_FEATURE PROBE; EINVAL and ENOTTY from the server mean "no", other errors are thrown. */
    @Override
    public boolean probeFeature(int feature, int ops) throws IOException {
        return migration.probeFeature(feature, ops);
    }

    /** DEVICE_FEATURE MIGRATION GET. */
    @Override
    public FeatureMigration migrationFeature() throws IOException {
        return migration.migrationFeature();
    }

    /** DEVICE_FEATURE MIG_DEVICE_STATE GET. */
    @Override
    public MigrationState migrationState() throws IOException {
        return migration.migrationState();
    }

    /** DEVICE_FEATURE MIG_DEVICE_STATE SET: the server completes the whole transition before replying. */
    @Override
    public void setMigrationState(MigrationState state) throws IOException {
        migration.setMigrationState(state);
    }

    /** DEVICE_FEATURE DMA_LOGGING_START; returns the page size the server logs at (it may change it). */
    @Override
    public long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException {
        return migration.startDmaLogging(pageSize, ranges);
    }

    @Override
    public void stopDmaLogging() throws IOException {
        migration.stopDmaLogging();
    }

    /** DEVICE_FEATURE DMA_LOGGING_REPORT GET; E2BIG when the bitmap would exceed this client's transfer limit. */
    @Override
    public FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize) throws IOException {
        return migration.dmaLoggingReport(iova, length, pageSize);
    }

    /** MIG_DATA_READ of up to {@code size} bytes (at most max_data_xfer_size); a reply padded to {@code size} is fine. */
    @Override
    public byte[] migDataRead(int size) throws IOException {
        return migration.migDataRead(size);
    }

    /** MIG_DATA_WRITE, in chunks of the transfer limit (partial writes are not allowed, so each chunk is whole). */
    @Override
    public void migDataWrite(byte[] data) throws IOException {
        migration.migDataWrite(data);
    }

    /** GET_PRECOPY_INFO (pending in the spec). */
    @Override
    public PrecopyInfo precopyInfo() throws IOException {
        return migration.precopyInfo();
    }

    // ---------------------------------------------------------------- messaging

    /**
     * Sends a command and waits for its reply; an error reply becomes a {@link VfioUserException}.
     * The caller owns the fds of the returned reply.
     */
    public Reply call(Command command, Payload request, List<Fd> fds) throws IOException {
        return call(command, request, fds, options.callTimeout());
    }

    /** {@link #call(Command, Payload, List)} with its own timeout. */
    public Reply call(Command command, Payload request, List<Fd> fds, Duration timeout) throws IOException {
        return call(command, request, fds, timeout, maxIncoming, options.maxMsgFds());
    }

    /** Sends a command with NO_REPLY. */
    public void post(Command command, Payload request) throws IOException {
        channel.post(command, request);
    }

    /** A typed call whose reply carries no fds (any that come are closed) and at most {@code maxReply} payload bytes. */
    private Reply typedCall(Command command, Payload request, long maxReply) throws IOException {
        return typedCall(command, request, List.of(), maxReply);
    }

    private Reply typedCall(Command command, Payload request, List<Fd> fds, long maxReply) throws IOException {
        return call(command, request, fds, options.callTimeout(), maxReply, 0);
    }

    private Reply call(Command command, Payload request, List<Fd> fds, Duration timeout, long maxReply, int maxReplyFds)
            throws IOException {
        channel.checkAlive();
        if (fds.size() > Math.max(1, serverCaps.maxMsgFds())) {
            throw new VfioUserException(Errno.E2BIG, command + ": " + fds.size() + " fds exceed the server's max_msg_fds "
                    + serverCaps.maxMsgFds());
        }
        return channel.call(command, request, fds, timeout, maxReply, maxReplyFds);
    }

    private void checkArgsz(int argsz, int min) {
        if (argsz < min || argsz > maxIncoming) {
            throw new IllegalArgumentException("argsz must be in [" + min + ", " + maxIncoming + "]: " + Integer.toUnsignedString(argsz));
        }
    }

    // ---------------------------------------------------------------- the end

    /** Connected and not being closed: worth sending a tidy-up command. */
    private boolean usable() {
        return !channel.isDead() && !channel.closing();
    }

    /** Whether the connection is still up. */
    @Override
    public boolean isConnected() {
        return !channel.isDead();
    }

    /** Why the connection died, if it did. */
    public Optional<VfioUserException> failure() {
        return Optional.ofNullable(channel.failure());
    }

    /**
     * Closes the connection: mapped regions, DMA buffers and interrupt helpers are released locally
     * (the server drops its DMA windows and eventfds when the client goes), waiting calls fail.
     */
    @Override
    public void close() {
        if (!channel.beginClose()) {
            return;
        }
        for (AutoCloseable r : List.copyOf(resources)) {
            try {
                r.close();
            } catch (Exception e) {
                LOG.log(Level.WARNING, "closing " + r + ": " + e.getMessage());
            }
        }
        resources.clear();
        channel.markDead(new VfioUserException(Errno.ENOTCONN, "the client was closed"));
        channel.joinReader();
        requests.stop();
        channel.closeSocket();
        requests.memory().clear();
    }
}
