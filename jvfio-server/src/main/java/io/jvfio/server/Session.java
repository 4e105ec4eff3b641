package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.Capabilities;
import io.jvfio.protocol.Capability;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaReadReply;
import io.jvfio.protocol.DmaReadRequest;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.DmaWriteReply;
import io.jvfio.protocol.DmaWriteRequest;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import io.jvfio.protocol.SparseMmapCap;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.Version;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client connection: reads messages in order, turns commands into {@link VfioDevice} calls
 * and answers them, and carries the device's DMA_READ/DMA_WRITE requests to the client.
 *
 * <p>The session thread only reads and dispatches. A device thread that sends a DMA request
 * blocks on its own reply while the session thread goes on serving the client's commands and
 * routes the reply back by message id — so a client that answers DMA requests only after its own
 * command completes (QEMU) never deadlocks against us.
 */
final class Session implements DmaTransport, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Session.class.getName());
    /** VERSION is answered with this minor; we implement the 0.x protocol as QEMU speaks it. */
    static final int PROTOCOL_MAJOR = 0, PROTOCOL_MINOR = 0;

    private final UnixSocket socket;
    private final VfioDevice device;
    private final ServerOptions options;
    private final ServerStats stats;
    /** The two message buffers: shared memfd mappings, so only the pages messages touch become resident. */
    private final io.jvfio.linux.Mapping inMapping, outMapping;
    private final MemorySegment out;   // one reply
    /** Receives into the in buffer: usually a whole message per recvmsg; what comes after it stays buffered. */
    private final io.jvfio.linux.MessageReceiver<ProtocolException> receiver;
    /** The message being handled: a view of the receive buffer, or a copy of one set aside earlier. */
    private MemorySegment msg;
    private final List<Fd> fds = new ArrayList<>();
    // Views of msg and out the hot path reuses (slices handed to the socket or the device would otherwise be allocated).
    private final SliceCache inPayload;
    private final SliceCache writeData;
    private final MemorySegment outPayload;
    private final SliceCache readData;
    private final SliceCache outMessage;
    private final DmaSpace dma;
    /** The device's migration, or null when it cannot be migrated. */
    private final DeviceMigration migration;
    private final ConcurrentHashMap<Integer, PendingDma> pending = new ConcurrentHashMap<>();
    /** DMA_READ chunks in the order they were asked for: the head's reply is expected next. */
    private final java.util.concurrent.ConcurrentLinkedQueue<PendingDma> readOrder = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Header and address/count before a DMA_READ reply's data: what stays in the receive buffer when the data is placed. */
    static final int PLACED_PREFIX = Header.SIZE + DmaReadReply.SIZE;
    /**
     * SO_RCVTIMEO of the session's socket. A receive that places a reply's data in a device's buffer
     * waits at most this long, so a device that gives up on a DMA_READ waits at most this long
     * before it may free the buffer.
     */
    static final java.time.Duration PLACED_RECEIVE_TIMEOUT = java.time.Duration.ofMillis(100);
    private final AtomicInteger nextId = new AtomicInteger();
    private volatile boolean negotiated;
    private volatile boolean closed;
    /** The thread that reads this session's messages; it must never wait for a DMA reply itself. */
    private volatile Thread sessionThread;
    /** The device's region count, fixed at VERSION (checked before every region access, without allocating). */
    private int numRegions;
    private Capabilities clientCaps = Capabilities.DEFAULTS;

    /**
     * A DMA request of ours waiting for the client's reply. A DMA_READ chunk is also the placement
     * the session offers its receiver: the reply's data goes straight into the device's buffer.
     */
    private static final class PendingDma implements io.jvfio.linux.MessageReceiver.Placement {
        final int id;
        final Thread waiter;
        final MemorySegment readInto;  // null for DMA_WRITE
        final long address;
        final long count;
        /** The read this chunk belongs to (it goes on when the chunk is answered), or null. */
        final ReadTransfer transfer;
        volatile int errno;
        volatile boolean done;

        PendingDma(int id, Thread waiter, MemorySegment readInto, long address, long count, ReadTransfer transfer) {
            this.id = id;
            this.waiter = waiter;
            this.readInto = readInto;
            this.address = address;
            this.count = count;
            this.transfer = transfer;
        }

        @Override
        public int prefixSize() {
            return PLACED_PREFIX;
        }

        @Override
        public MemorySegment target() {
            return readInto;
        }

        @Override
        public boolean matches(MemorySegment prefix) {
            return Header.msgId(prefix) == id && Header.command(prefix) == Command.DMA_READ.code() && Header.isReply(prefix)
                    && !Header.isError(prefix) && Header.messageSize(prefix) == PLACED_PREFIX + count
                    && DmaReadReply.headerIs(prefix.asSlice(Header.SIZE), address, count);
        }

        @Override
        public boolean hold() {
            return transfer != null && transfer.hold(this);
        }

        @Override
        public void release() {
            transfer.release();
        }

        void complete(int errno) {
            this.errno = errno;
            done = true;
            if (transfer != null) {
                transfer.answered(this, errno);
            } else {
                java.util.concurrent.locks.LockSupport.unpark(waiter);
            }
        }
    }

    Session(UnixSocket socket, VfioDevice device, ServerOptions options, ServerStats stats) {
        this.socket = socket;
        this.device = device;
        this.options = options;
        this.stats = stats;
        long max = options.maxMessageSize();
        this.inMapping = buffer("jvfio-session-in", max);
        this.outMapping = buffer("jvfio-session-out", max);
        this.out = outMapping.segment();
        this.receiver = new io.jvfio.linux.MessageReceiver<>(socket, inMapping.segment(), Header.SIZE, max, header -> {
            Header.validate(header, max);
            return Header.messageSize(header);
        });
        this.inPayload = new SliceCache(Header.SIZE);
        this.writeData = new SliceCache(Header.SIZE + RegionAccess.DATA_OFFSET);
        this.outPayload = out.asSlice(Header.SIZE);
        this.readData = new SliceCache(out, Header.SIZE + RegionAccess.DATA_OFFSET);
        this.outMessage = new SliceCache(out, 0);
        this.dma = new DmaSpace(options.maxDmaWindows());
        this.migration = device.migration().orElse(null);
        socket.setMaxReceiveFds(options.maxMsgFds());
        try {
            socket.setReceiveTimeout(PLACED_RECEIVE_TIMEOUT);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot set the session socket's receive timeout: " + e.getMessage(), e);
        }
    }

    /** Serves until the client disconnects or sends something that cannot be framed. */
    void run() {
        sessionThread = Thread.currentThread();
        try {
            PeerCredentials peer = socket.peerCredentials();
            LOG.log(Level.DEBUG, "client pid %d uid %d connected".formatted(peer.pid(), peer.uid()));
            while (!closed && nextMessage()) {
                if (Header.isReply(msg)) {
                    completeDma();
                } else {
                    dispatch();
                }
                closeUnclaimedFds();
            }
        } catch (EOFException e) {
            LOG.log(Level.INFO, "client left in the middle of a message");
        } catch (ProtocolException e) {
            stats.countError();
            LOG.log(Level.WARNING, "disconnecting client: " + e.getMessage());
        } catch (IOException e) {
            if (!closed) {
                LOG.log(Level.WARNING, "disconnecting client: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            // A bug must cost this client its connection, not the server its accept loop.
            stats.countError();
            LOG.log(Level.ERROR, "disconnecting client after an internal error", e);
        } finally {
            closeUnclaimedFds();
            receiver.close();
            for (Deferred d : deferred) {
                d.fds().forEach(Fd::close);
            }
            deferred.clear();
        }
    }

    /** Commands that arrived while a device call was served off this thread: handled next, in order. */
    private record Deferred(byte[] message, List<Fd> fds) {}

    private final java.util.ArrayDeque<Deferred> deferred = new java.util.ArrayDeque<>();
    /** The client closed while commands were being set aside: nothing more will come. */
    private boolean endOfInput;

    /** The next message into {@code msg}: one set aside earlier, else one from the socket. */
    private boolean nextMessage() throws IOException, ProtocolException {
        Deferred d = deferred.poll();
        if (d != null) {
            msg = MemorySegment.ofArray(d.message());
            fds.addAll(d.fds());
            return true;
        }
        return !endOfInput && readMessage();
    }

    /** A device call that may wait for the device's own DMA. */
    private interface DeviceCall<T> {
        T run() throws VfioException;
    }

    /**
     * Runs {@code call} on a helper thread while this thread goes on reading: replies to the
     * device's DMA requests are completed, commands are set aside for after. A device stopping for
     * a migration finishes DMA in flight, and DMA to windows without an fd needs this thread to
     * read the client's replies. The current command was decoded already, so the receive buffer is free.
     */
    private <T> T whileServingDma(DeviceCall<T> call) throws VfioException, IOException, ProtocolException {
        java.util.concurrent.CompletableFuture<T> done = new java.util.concurrent.CompletableFuture<>();
        Thread.ofPlatform().daemon().name("jvfio-" + device.name() + "-call").start(() -> {
            try {
                done.complete(call.run());
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        while (!done.isDone() && !endOfInput && !closed) {
            int r = receiver.next(fds, io.jvfio.linux.MessageReceiver.Wait.BUFFERED);
            if (r == io.jvfio.linux.MessageReceiver.NOTHING) {
                if (Linux.poll(socket.fd(), POLLIN, POLL_MILLIS) == 0) {
                    continue;
                }
                r = receiver.next(fds, io.jvfio.linux.MessageReceiver.Wait.DONT_WAIT, expectedRead());
            }
            if (r == io.jvfio.linux.MessageReceiver.NOTHING) {
                continue; // part of a message: the rest comes later
            }
            if (r == io.jvfio.linux.MessageReceiver.END) {
                endOfInput = true;
                continue;
            }
            msg = receiver.message();
            if (Header.isReply(msg)) {
                completeDma();
            } else {
                deferred.add(new Deferred(msg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), List.copyOf(fds)));
                fds.clear();
            }
        }
        try {
            return done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VfioException(Errno.EINTR, "interrupted while the device worked");
        } catch (java.util.concurrent.ExecutionException e) {
            switch (e.getCause()) {
                case VfioException v -> throw v;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new VfioException(Errno.EIO, e.getCause().toString(), e.getCause());
            }
        }
    }

    /** How often the wait looks at the call between messages: its latency is added to each such command. */
    private static final int POLLIN = 1, POLL_MILLIS = 1;

    /** Reads one whole message into {@code msg} (usually one recvmsg); false at a clean end of the connection. */
    private boolean readMessage() throws IOException, ProtocolException {
        while (true) {
            // While a DMA_READ is under way, wait in bounded receives that may place its reply (see PLACED_RECEIVE_TIMEOUT).
            PendingDma expected = expectedRead();
            int r = receiver.next(fds, expected != null ? io.jvfio.linux.MessageReceiver.Wait.TIMED
                    : io.jvfio.linux.MessageReceiver.Wait.BLOCK, expected);
            if (r == io.jvfio.linux.MessageReceiver.END) {
                return false;
            }
            if (r == io.jvfio.linux.MessageReceiver.MESSAGE) {
                msg = receiver.message();
                return true;
            }
        }
    }

    /** The DMA_READ chunk whose reply should come next, or null; chunks answered or given up on are dropped. */
    private PendingDma expectedRead() {
        PendingDma p;
        while ((p = readOrder.peek()) != null && (p.done || pending.get(p.id) != p)) {
            readOrder.poll(); // only this thread takes from the queue: the head is still p
        }
        return p;
    }

    private MemorySegment payload() {
        return inPayload.of(msg, Header.messageSize(msg) - Header.SIZE);
    }

    private void dispatch() throws IOException {
        int id = Header.msgId(msg);
        int code = Header.command(msg);
        boolean noReply = Header.isNoReply(msg);
        Command command = Command.orNull(code);
        long replyPayload;
        try {
            if (command == null) {
                throw new ProtocolException(Errno.ENOSYS, "unknown command " + code);
            }
            stats.countCommand(command);
            Command.checkFdCount(command, fds.size());
            if (!negotiated && command != Command.VERSION) {
                throw new ProtocolException(Errno.EINVAL, command + " before VERSION");
            }
            if (migration != null && !migration.executes(command)) {
                throw new ProtocolException(Errno.EINVAL, command + " while the device is in migration state " + migration.state());
            }
            replyPayload = handle(command, payload(), outPayload);
        } catch (ProtocolException e) {
            fail(id, code, noReply, e.errno(), e.getMessage());
            return;
        } catch (VfioException e) {
            fail(id, code, noReply, e.errno(), e.getMessage());
            return;
        } catch (RuntimeException e) {
            // A device bug must not take the session down: the client gets EIO, the log the details.
            LOG.log(Level.ERROR, "device failed on " + command, e);
            fail(id, code, noReply, Errno.EIO, e.toString());
            return;
        }
        closeUnclaimedFds(); // before the reply: a client that sees the answer sees its fds released
        if (!noReply) {
            Header.writeReply(out, id, code, Header.SIZE + replyPayload);
            socket.send(outMessage.of(Header.SIZE + replyPayload), replyFds);
            replyFds.clear();
        }
    }

    private final List<Fd> replyFds = new ArrayList<>(1);

    private void fail(int id, int code, boolean noReply, int errno, String why) throws IOException {
        stats.countError();
        replyFds.clear();
        closeUnclaimedFds(); // a refused message's fds are closed before the client hears of it
        LOG.log(Level.DEBUG, "command %d failed: %s".formatted(code, why));
        if (!noReply) {
            Header.writeErrorReply(out, id, code, errno);
            socket.send(outMessage.of(Header.SIZE), List.of());
        }
    }

    /** Handles one command; writes the reply payload into {@code reply} and returns its size. */
    private long handle(Command command, MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        return switch (command) {
            case VERSION -> version(p, reply);
            case REGION_READ -> regionRead(p, reply);
            case REGION_WRITE -> regionWrite(p, reply);
            case REGION_WRITE_MULTI -> regionWriteMulti(p, reply);
            case DMA_MAP -> dmaMap(p);
            case DMA_UNMAP -> dmaUnmap(p, reply);
            case DEVICE_GET_INFO -> deviceInfo(p, reply);
            case DEVICE_GET_REGION_INFO -> regionInfo(p, reply);
            case DEVICE_GET_IRQ_INFO -> irqInfo(p, reply);
            case DEVICE_SET_IRQS -> setIrqs(p);
            case DEVICE_RESET -> {
                device.reset();
                if (migration != null) {
                    migration.reset();
                }
                yield 0;
            }
            case DEVICE_FEATURE -> feature(p, reply);
            case MIG_DATA_READ -> migDataRead(p, reply);
            case MIG_DATA_WRITE -> migDataWrite(p);
            case GET_PRECOPY_INFO -> precopyInfo(p, reply);
            case DMA_READ, DMA_WRITE -> throw new ProtocolException(Errno.EINVAL, command + " is sent by servers, not clients");
            case DEVICE_GET_REGION_IO_FDS ->
                    throw new ProtocolException(Errno.ENOTSUP, command + " is not supported by this server");
        };
    }

    // The hot path: no allocation. The device reads straight into the reply buffer.
    private long regionRead(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        RegionAccess.validate(p, options.maxDataXferSize(), false);
        checkRegion(RegionAccess.region(p));
        long count = RegionAccess.count(p);
        RegionAccess.write(reply, RegionAccess.offset(p), RegionAccess.region(p), count);
        device.regionRead(RegionAccess.region(p), RegionAccess.offset(p),
                reply == outPayload ? readData.of(count) : reply.asSlice(RegionAccess.DATA_OFFSET, count));
        return RegionAccess.SIZE + count;
    }

    private long regionWrite(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        RegionAccess.validate(p, options.maxDataXferSize(), true);
        checkRegion(RegionAccess.region(p));
        device.regionWrite(RegionAccess.region(p), RegionAccess.offset(p),
                p.address() == msg.address() + Header.SIZE && p.isNative() ? writeData.of(msg, RegionAccess.count(p)) : RegionAccess.data(p));
        RegionAccess.write(reply, RegionAccess.offset(p), RegionAccess.region(p), RegionAccess.count(p));
        return RegionAccess.SIZE;
    }

    private long regionWriteMulti(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        RegionWriteMulti multi = RegionWriteMulti.decode(p);
        for (RegionWriteMulti.Entry e : multi.entries()) {
            checkRegion(e.region());
        }
        long done = 0;
        for (RegionWriteMulti.Entry e : multi.entries()) {
            device.regionWrite(e.region(), e.offset(), MemorySegment.ofArray(e.data()));
            done++;
        }
        return encode(new RegionWriteMultiReply(done), reply);
    }

    /** EINVAL for a region index the device does not have (the u32 may even read as negative). */
    private void checkRegion(int region) throws ProtocolException {
        if (region < 0 || region >= numRegions) {
            throw new ProtocolException(Errno.EINVAL, "no region " + Integer.toUnsignedString(region));
        }
    }

    private long dmaMap(MemorySegment p) throws ProtocolException, VfioException {
        DmaMap map = DmaMap.decode(p);
        map.checkFds(fds.size());
        if ((map.flags() & Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO) != 0) {
            throw new ProtocolException(Errno.ENOTSUP, "DMA_MAP: file-I/O access mode is not supported");
        }
        Fd fd = fds.isEmpty() ? null : fds.removeFirst();
        dma.map(map.address(), map.size(), map.readable(), map.writable(), fd, map.offset());
        stats.countDmaWindow(fd != null);
        return 0;
    }

    private long dmaUnmap(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        DmaUnmap unmap = DmaUnmap.decode(p);
        if (unmap.wantsDirtyBitmap()) {
            throw new ProtocolException(Errno.ENOTSUP, "DMA_UNMAP: dirty bitmaps (migration v1) are not supported");
        }
        if (unmap.isAll()) {
            dma.unmapAll();
        } else {
            dma.unmap(unmap.address(), unmap.size());
        }
        return encode(new DmaUnmap(DmaUnmap.SIZE, unmap.flags(), unmap.address(), unmap.size(), null), reply);
    }

    private long deviceInfo(MemorySegment p, MemorySegment reply) throws ProtocolException {
        io.jvfio.protocol.DeviceInfo request = io.jvfio.protocol.DeviceInfo.decode(p);
        DeviceSpec info = device.info();
        return encode(io.jvfio.protocol.DeviceInfo.reply(ArgSz.unsigned(request.argsz()), info.flags(),
                info.numRegions(), info.numIrqs(), info.capabilities()), reply);
    }

    private long regionInfo(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        io.jvfio.protocol.RegionInfo request = io.jvfio.protocol.RegionInfo.decode(p);
        int index = request.index();
        if (index < 0 || index >= device.info().numRegions()) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_GET_REGION_INFO: no region " + Integer.toUnsignedString(index));
        }
        RegionSpec info = device.regionInfo(index);
        int flags = (info.readable() ? Vfio.REGION_INFO_FLAG_READ : 0) | (info.writable() ? Vfio.REGION_INFO_FLAG_WRITE : 0);
        List<Capability> caps = new ArrayList<>(info.capabilities());
        long fileOffset = 0;
        if (info.mmap().isPresent()) {
            RegionSpec.Mmap mmap = info.mmap().get();
            flags |= Vfio.REGION_INFO_FLAG_MMAP;
            fileOffset = mmap.fileOffset();
            if (!mmap.areas().isEmpty()) {
                caps.add(new SparseMmapCap(mmap.areas().stream()
                        .map(a -> new SparseMmapCap.Area(a.offset(), a.size())).toList()));
            }
        }
        io.jvfio.protocol.RegionInfo answer = io.jvfio.protocol.RegionInfo.reply(ArgSz.unsigned(request.argsz()),
                index, flags, info.size(), fileOffset, caps);
        // The fd goes only with a complete answer; a client re-asking with a bigger argsz gets it then.
        if (info.mmap().isPresent() && !answer.truncated()) {
            replyFds.add(info.mmap().get().fd());
        }
        return encode(answer, reply);
    }

    private long irqInfo(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        io.jvfio.protocol.IrqInfo request = io.jvfio.protocol.IrqInfo.decode(p);
        if (request.index() < 0 || request.index() >= device.info().numIrqs()) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_GET_IRQ_INFO: no irq index " + Integer.toUnsignedString(request.index()));
        }
        IrqSpec info = device.irqInfo(request.index());
        int flags = Vfio.IRQ_INFO_EVENTFD | (info.maskable() ? Vfio.IRQ_INFO_MASKABLE : 0)
                | (info.automasked() ? Vfio.IRQ_INFO_AUTOMASKED : 0) | (info.noResize() ? Vfio.IRQ_INFO_NORESIZE : 0);
        return encode(io.jvfio.protocol.IrqInfo.reply(request.index(), flags, info.count()), reply);
    }

    private long setIrqs(MemorySegment p) throws ProtocolException, VfioException {
        io.jvfio.protocol.IrqSet request = io.jvfio.protocol.IrqSet.decode(p);
        request.checkFds(fds.size());
        if (request.index() < 0 || request.index() >= device.info().numIrqs()) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_SET_IRQS: no irq index " + Integer.toUnsignedString(request.index()));
        }
        IrqSetting.Action action = switch (request.action()) {
            case Vfio.IRQ_SET_ACTION_MASK -> IrqSetting.Action.MASK;
            case Vfio.IRQ_SET_ACTION_UNMASK -> IrqSetting.Action.UNMASK;
            default -> IrqSetting.Action.TRIGGER;
        };
        IrqSetting.Data data = switch (request.dataType()) {
            case Vfio.IRQ_SET_DATA_BOOL -> IrqSetting.Data.BOOL;
            case Vfio.IRQ_SET_DATA_EVENTFD -> IrqSetting.Data.EVENTFD;
            default -> IrqSetting.Data.NONE;
        };
        List<Fd> eventfds = List.copyOf(fds);
        fds.clear(); // ownership passes to the device with the request
        device.setIrqs(new IrqSetting(request.index(), request.start(), request.count(), action, data, request.boolData(), eventfds));
        return 0;
    }

    private long feature(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        DeviceFeature request = DeviceFeature.decode(p);
        int feature = request.feature();
        byte[] data;
        if (migration != null && (feature == Vfio.DEVICE_FEATURE_MIGRATION || feature == Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE)) {
            data = migrationFeature(request);
        } else if (migration != null && (feature == Vfio.DEVICE_FEATURE_DMA_LOGGING_START
                || feature == Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP || feature == Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT)) {
            // Dirty logging serves migration: offered with it; a device without migration keeps its own answer.
            data = dmaLogging(request);
        } else {
            data = device.feature(request.flags(), request.data());
        }
        long size = DeviceFeature.SIZE + (long) data.length;
        if (request.isGet() && size > ArgSz.unsigned(request.argsz())) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_FEATURE: reply needs %d bytes, client offered %d"
                    .formatted(size, ArgSz.unsigned(request.argsz())));
        }
        return encode(new DeviceFeature((int) size, request.flags(), data), reply);
    }

    /**
     * As the kernel's vfio_check_feature: GET/SET must be among the feature's operations; PROBE
     * answers (true) without acting; otherwise one of GET or SET is needed.
     */
    private static boolean probeOnly(DeviceFeature request, boolean get, boolean set) throws ProtocolException {
        if ((request.isGet() && !get) || (request.isSet() && !set)) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_FEATURE %d does not support %s"
                    .formatted(request.feature(), request.isGet() ? "GET" : "SET"));
        }
        if (request.isProbe()) {
            return true;
        }
        if (!request.isGet() && !request.isSet()) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_FEATURE %d without GET, SET or PROBE".formatted(request.feature()));
        }
        return false;
    }

    /** Migration v2: what the device offers (MIGRATION) and its place in the state machine (MIG_DEVICE_STATE). */
    private byte[] migrationFeature(DeviceFeature request) throws ProtocolException, VfioException, IOException {
        if (request.feature() == Vfio.DEVICE_FEATURE_MIGRATION) {
            if (probeOnly(request, true, false)) {
                return request.data();
            }
            return new FeatureMigration(Vfio.MIGRATION_STOP_COPY | Vfio.MIGRATION_PRE_COPY).toBytes();
        }
        if (probeOnly(request, true, true)) {
            return request.data();
        }
        if (request.isGet()) {
            return FeatureMigDeviceState.of(migration.state()).toBytes();
        }
        FeatureMigDeviceState target = FeatureMigDeviceState.decode(request.dataSegment());
        MigrationState to = target.state();
        whileServingDma(() -> {
            migration.transition(to);
            return null;
        });
        return request.data();
    }

    /** DMA dirty logging over this client's DMA space: the DMA space marks what any device writes. */
    private byte[] dmaLogging(DeviceFeature request) throws ProtocolException, VfioException {
        switch (request.feature()) {
            case Vfio.DEVICE_FEATURE_DMA_LOGGING_START -> {
                if (probeOnly(request, false, true)) {
                    return request.data();
                }
                FeatureDmaLoggingControl control = FeatureDmaLoggingControl.decode(request.dataSegment());
                List<long[]> ranges = new ArrayList<>();
                for (FeatureDmaLoggingControl.Range r : control.ranges()) {
                    ranges.add(new long[] {r.iova(), r.length()});
                }
                long pageSize = dma.startDirtyLogging(control.pageSize(), ranges);
                return new FeatureDmaLoggingControl(pageSize, control.ranges()).toBytes();
            }
            case Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP -> {
                if (!probeOnly(request, false, true)) {
                    dma.stopDirtyLogging();
                }
                return request.data();
            }
            default -> {
                if (probeOnly(request, true, false)) {
                    return request.data();
                }
                FeatureDmaLoggingReport ask = FeatureDmaLoggingReport.decode(request.dataSegment());
                long bitmapBytes = ask.expectedBitmapSize();
                // Checked before the report, which clears what it reports: a refused report loses nothing.
                ArgSz.require(ArgSz.unsigned(request.argsz()), DeviceFeature.SIZE + FeatureDmaLoggingReport.SIZE + bitmapBytes,
                        "DMA_LOGGING_REPORT");
                if (FeatureDmaLoggingReport.SIZE + bitmapBytes > options.maxDataXferSize()) {
                    throw new ProtocolException(Errno.E2BIG, "DMA_LOGGING_REPORT bitmap of %d bytes exceeds %d"
                            .formatted(bitmapBytes, options.maxDataXferSize()));
                }
                long[] words = dma.dirtyReport(ask.iova(), ask.length(), ask.pageSize());
                MemorySegment bitmap = MemorySegment.ofArray(new byte[Math.toIntExact(bitmapBytes)]);
                for (int i = 0; i < words.length; i++) {
                    bitmap.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN),
                            8L * i, words[i]);
                }
                return new FeatureDmaLoggingReport(ask.iova(), ask.length(), ask.pageSize(),
                        bitmap.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).toBytes();
            }
        }
    }

    private DeviceMigration migrationOrRefuse(Command command) throws ProtocolException {
        if (migration == null) {
            throw new ProtocolException(Errno.ENOTSUP, command + ": the device cannot be migrated");
        }
        return migration;
    }

    /** In PRE_COPY the device saves while running: served off this thread, like a transition. */
    private long migDataRead(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        DeviceMigration m = migrationOrRefuse(Command.MIG_DATA_READ);
        int size = MigDataReadRequest.decode(p, options.maxDataXferSize()).size();
        return encode(MigData.of(whileServingDma(() -> m.read(size))), reply);
    }

    /** The reply is empty, as in the spec and libvfio-user. */
    private long migDataWrite(MemorySegment p) throws ProtocolException, VfioException {
        DeviceMigration m = migrationOrRefuse(Command.MIG_DATA_WRITE);
        m.write(MigData.decode(p, options.maxDataXferSize()).data());
        return 0;
    }

    private long precopyInfo(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        DeviceMigration m = migrationOrRefuse(Command.GET_PRECOPY_INFO);
        PrecopyInfo.decode(p);
        long[] info = whileServingDma(m::precopyInfo);
        return encode(PrecopyInfo.reply(info[0], info[1]), reply);
    }

    private static long encode(Payload payload, MemorySegment reply) {
        payload.encode(reply);
        return payload.encodedSize();
    }

    private long version(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        if (negotiated) {
            throw new ProtocolException(Errno.EINVAL, "VERSION sent twice");
        }
        Version proposed = Version.decode(p);
        if (proposed.major() != PROTOCOL_MAJOR) {
            throw new ProtocolException(Errno.ENOTSUP, "protocol major %d is not supported".formatted(proposed.major()));
        }
        clientCaps = proposed.capabilitiesOrDefaults();
        Capabilities limits = Capabilities.DEFAULTS
                .withMaxMsgFds(options.maxMsgFds())
                .withMaxDataXferSize(options.maxDataXferSize());
        int minor = Math.min(proposed.minor(), PROTOCOL_MINOR);
        // QEMU receives the reply into a buffer as large as its own request: never send more. Optional
        // keys go first, our limits last; a client that sent no JSON (SPDK's test client) gets none.
        Version answer = null;
        for (Capabilities candidate : proposed.capabilities() == null ? List.<Capabilities>of()
                : List.of(limits.withWriteMultiple(true), limits, Capabilities.DEFAULTS)) {
            Version v = new Version(PROTOCOL_MAJOR, minor, candidate);
            if (v.encodedSize() <= p.byteSize()) {
                answer = v;
                break;
            }
        }
        if (answer == null) {
            answer = new Version(PROTOCOL_MAJOR, minor, null);
        }
        if (!answer.capabilitiesOrDefaults().has(Capabilities.MAX_DATA_XFER_SIZE)
                && options.maxDataXferSize() < Capabilities.DEFAULT_MAX_DATA_XFER_SIZE) {
            LOG.log(Level.WARNING, "VERSION request too short to tell the client our max_data_xfer_size of "
                    + options.maxDataXferSize());
        }
        numRegions = device.info().numRegions();
        answer.encode(reply);
        negotiated = true;
        dma.attach(this);
        device.open(new SessionContext(peerOrUnknown(), limits(), dma, options.hypervisorLink()));
        return answer.encodedSize();
    }

    private NegotiatedLimits limits() {
        return new NegotiatedLimits(clientCaps.maxMsgFds(), clientCaps.maxDataXferSize(), options.maxDataXferSize());
    }

    private PeerCredentials peerOrUnknown() {
        try {
            return socket.peerCredentials();
        } catch (LinuxException e) {
            return new PeerCredentials(0, -1, -1);
        }
    }

    // ---- DMA to the client (DmaTransport), called from device threads ----

    @Override
    public void read(long iova, MemorySegment dst) throws VfioException {
        checkDmaAllowed(Command.DMA_READ, iova);
        new ReadTransfer(iova, dst).run();
    }

    @Override
    public void write(long iova, MemorySegment src) throws VfioException {
        checkDmaAllowed(Command.DMA_WRITE, iova);
        writeTransfer(iova, src);
    }

    private void checkDmaAllowed(Command command, long iova) throws VfioException {
        if (closed) {
            throw new VfioException(Errno.ENODEV, "client disconnected");
        }
        if (Thread.currentThread() == sessionThread) {
            // The reply could only be read by this very thread: waiting would hang until the timeout.
            throw new VfioException(Errno.EDEADLK, "%s at 0x%x from the session thread: message-based DMA must be done from a device thread"
                    .formatted(command, iova));
        }
    }

    /**
     * Largest single DMA_READ we send. QEMU 11.1 sends a DMA_READ reply larger than its socket's
     * send buffer (about 208 KiB) only in part and never the rest, which wedges the session;
     * smaller messages cost little once several are in flight. A DMA_WRITE carries its data in our
     * request: it goes in chunks of the negotiated max_data_xfer_size.
     */
    static final long DMA_MESSAGE_LIMIT = 64 << 10;
    /**
     * Requests of one transfer in flight at once. A DMA_READ's data comes back in the replies, so
     * at most two (128 KiB) wait in the client's socket: below QEMU's send buffer, as above. A
     * DMA_WRITE carries its data in the request; the replies are small and our own send waits for room.
     */
    static final int READ_WINDOW = 2, WRITE_WINDOW = 4;
    /**
     * Moves {@code buffer} to client memory at {@code iova} in DMA_WRITE requests of up to the
     * negotiated max_data_xfer_size, several in flight, each sent by the device thread straight
     * from {@code buffer}. The first error ends the transfer once the requests in flight are answered.
     */
    private void writeTransfer(long iova, MemorySegment buffer) throws VfioException {
        Command command = Command.DMA_WRITE;
        // Each request must fit what the client receives (and what we would send).
        long chunkMax = Math.max(1, Math.min(clientCaps.maxDataXferSize(), options.maxDataXferSize()));
        int window = WRITE_WINDOW;
        long size = buffer.byteSize();
        long timeout = options.dmaReplyTimeout().toNanos();
        PendingDma[] inFlight = new PendingDma[window]; // a ring, oldest at head
        int head = 0, count = 0;
        long issued = 0;
        VfioException failure = null;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment request = arena.allocate(Header.SIZE + DmaWriteRequest.SIZE, 8);
            while (true) {
                while (failure == null && count < window && issued < size) {
                    long chunk = Math.min(chunkMax, size - issued);
                    try {
                        inFlight[(head + count) % window] = sendWrite(iova + issued, buffer.asSlice(issued, chunk), request);
                    } catch (VfioException e) {
                        failure = e;
                        break;
                    }
                    count++;
                    issued += chunk;
                }
                if (count == 0) {
                    break;
                }
                PendingDma oldest = inFlight[head];
                inFlight[head] = null;
                head = (head + 1) % window;
                count--;
                int errno = await(oldest, timeout);
                if (errno != 0 && failure == null) {
                    failure = errno == Errno.ETIMEDOUT
                            ? new VfioException(Errno.ETIMEDOUT, "%s at 0x%x: no reply within %s".formatted(command, oldest.address,
                                    options.dmaReplyTimeout()))
                            : errno == Errno.EINTR ? new VfioException(Errno.EINTR, command + " interrupted")
                            : new VfioException(errno, "%s at 0x%x +0x%x: %s".formatted(command, oldest.address, oldest.count,
                                    Errno.format(errno)));
                }
                if (errno == Errno.ETIMEDOUT || errno == Errno.EINTR) {
                    break; // the client does not answer (or we were told to stop): do not wait for the rest
                }
            }
        } finally {
            for (int i = 0; i < count; i++) { // given up on: their replies, should they come, are dropped
                PendingDma p = inFlight[(head + i) % window];
                pending.remove(p.id, p);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * A device's DMA_READ of one buffer: the device thread sends the first {@link #READ_WINDOW}
     * requests, then the session thread, as it copies each reply's data into the buffer, sends the
     * next request itself. The device thread sleeps until the whole buffer is there (or the first
     * error), not once per chunk.
     */
    private final class ReadTransfer {
        private static final int REQUEST_SIZE = Header.SIZE + DmaReadRequest.SIZE;
        private final long iova;
        private final MemorySegment buffer;
        private final long chunkMax;
        private final Thread waiter = Thread.currentThread();
        /** The session thread's next request, written under this transfer's lock. */
        private final MemorySegment request = MemorySegment.ofArray(new byte[REQUEST_SIZE]);
        /** The device thread's opening requests: sent in one sendmsg, without the lock. */
        private final MemorySegment opening = MemorySegment.ofArray(new byte[READ_WINDOW * REQUEST_SIZE]);
        private final java.util.ArrayDeque<PendingDma> inFlight = new java.util.ArrayDeque<>(READ_WINDOW);
        // Guarded by this:
        private long issued;
        private VfioException failure;
        private boolean finished;
        private long lastAnswer = System.nanoTime();
        /** Receives writing into {@code buffer} now (the session thread's placements): the device must not free it meanwhile. */
        private int receiving;

        ReadTransfer(long iova, MemorySegment buffer) {
            this.iova = iova;
            this.buffer = buffer;
            this.chunkMax = Math.max(1, Math.min(DMA_MESSAGE_LIMIT, Math.min(clientCaps.maxDataXferSize(), options.maxDataXferSize())));
        }

        void run() throws VfioException {
            long timeout = options.dmaReplyTimeout().toNanos();
            try {
                open();
                while (true) {
                    synchronized (this) {
                        if (finished) {
                            break;
                        }
                        long left = lastAnswer + timeout - System.nanoTime();
                        if (left <= 0 || Thread.currentThread().isInterrupted()) {
                            PendingDma oldest = inFlight.peekFirst();
                            failure = left <= 0
                                    ? new VfioException(Errno.ETIMEDOUT, "DMA_READ at 0x%x: no reply within %s".formatted(
                                            oldest != null ? oldest.address : iova, options.dmaReplyTimeout()))
                                    : new VfioException(Errno.EINTR, "DMA_READ interrupted"); // the interrupt stays set
                            finished = true;
                            break;
                        }
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(this, Math.max(1, lastAnswerDeadline(timeout)));
                }
            } finally {
                synchronized (this) {
                    finished = true;
                    for (PendingDma p : inFlight) { // given up on: their replies, should they come, are dropped
                        pending.remove(p.id, p);
                    }
                    inFlight.clear();
                    // The buffer is the device's again only when no receive writes into it (at most PLACED_RECEIVE_TIMEOUT).
                    boolean interrupted = false;
                    while (receiving > 0) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            interrupted = true;
                        }
                    }
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }

        /**
         * Registers the first window's requests and sends them in one sendmsg. Not under the lock:
         * on one CPU the send may hand the CPU to the client, whose reply the session thread then
         * handles, and that needs the lock.
         */
        private void open() {
            List<PendingDma> sent = new ArrayList<>(READ_WINDOW);
            long bytes = 0;
            synchronized (this) {
                while (failure == null && inFlight.size() < READ_WINDOW && issued < buffer.byteSize()) {
                    PendingDma p = register(opening.asSlice(bytes, REQUEST_SIZE));
                    if (p == null) {
                        break;
                    }
                    sent.add(p);
                    bytes += REQUEST_SIZE;
                }
                finishIfDone();
            }
            if (bytes == 0) {
                return;
            }
            VfioException failed = null;
            try {
                socket.send(opening.asSlice(0, bytes));
            } catch (LinuxException | RuntimeException e) {
                failed = new VfioException(Errno.ENODEV, "DMA_READ: " + e.getMessage(), e);
            }
            if (failed == null && !closed) {
                return;
            }
            synchronized (this) {
                for (PendingDma p : sent) {
                    // A request close() has not failed yet (it may have run just before ours were added).
                    if (pending.remove(p.id, p)) {
                        inFlight.remove(p);
                    }
                }
                if (failure == null) {
                    failure = failed != null ? failed : new VfioException(Errno.ENODEV, "client disconnected");
                }
                finishIfDone();
            }
        }

        /** The session thread is about to receive {@code p}'s data into the buffer: allowed while the transfer waits for it. */
        synchronized boolean hold(PendingDma p) {
            if (finished || p.done || !inFlight.contains(p)) {
                return false;
            }
            receiving++;
            return true;
        }

        synchronized void release() {
            if (--receiving == 0) {
                notifyAll();
            }
        }

        private synchronized long lastAnswerDeadline(long timeout) {
            return lastAnswer + timeout - System.nanoTime();
        }

        /**
         * Takes the next chunk: a message id, an entry in {@code pending} and {@code inFlight}, and
         * its request written into {@code into}. With this held. Null (and {@code failure} set) when
         * it cannot.
         */
        private PendingDma register(MemorySegment into) {
            if (closed) {
                failure = new VfioException(Errno.ENODEV, "client disconnected");
                return null;
            }
            long chunk = Math.min(chunkMax, buffer.byteSize() - issued);
            long address = iova + issued;
            int id = nextId.getAndIncrement() & 0xffff;
            PendingDma p = new PendingDma(id, waiter, buffer.asSlice(issued, chunk), address, chunk, this);
            if (pending.putIfAbsent(id, p) != null) {
                failure = new VfioException(Errno.EBUSY, "65536 DMA requests outstanding");
                return null;
            }
            inFlight.addLast(p);
            readOrder.add(p);
            issued += chunk;
            Header.writeCommand(into, id, Command.DMA_READ.code(), REQUEST_SIZE, false);
            DmaReadRequest.encode(into.asSlice(Header.SIZE), address, chunk);
            return p;
        }

        /** Sends the next chunk's request; with this held (by the session thread). A failure to send ends the transfer. */
        private void issueNext() {
            PendingDma p = register(request);
            if (p == null) {
                return;
            }
            try {
                socket.send(request);
            } catch (LinuxException | RuntimeException e) {
                inFlight.removeLast();
                pending.remove(p.id, p);
                failure = new VfioException(Errno.ENODEV, "DMA_READ: " + e.getMessage(), e);
            }
            if (closed && pending.remove(p.id, p)) {
                // close() may have failed the pending requests just before ours was added.
                inFlight.remove(p);
                if (failure == null) {
                    failure = new VfioException(Errno.ENODEV, "client disconnected");
                }
            }
        }

        /**
         * A chunk's reply was handled (its data copied): go on with the next chunk, or end. Session
         * thread (or close). The device thread is woken after the lock is let go: on one CPU it
         * would otherwise run at once and only spin on the lock.
         */
        void answered(PendingDma p, int errno) {
            synchronized (this) {
                if (finished || !inFlight.remove(p)) {
                    return;
                }
                lastAnswer = System.nanoTime();
                if (errno != 0 && failure == null) {
                    failure = new VfioException(errno, "DMA_READ at 0x%x +0x%x: %s".formatted(p.address, p.count, Errno.format(errno)));
                }
                if (failure == null && issued < buffer.byteSize()) {
                    issueNext();
                }
                if (!finishIfDone()) {
                    return;
                }
            }
            java.util.concurrent.locks.LockSupport.unpark(waiter);
        }

        /** With this held: ends the transfer when nothing is in flight and nothing more will be asked; true if it did. */
        private boolean finishIfDone() {
            if (!finished && inFlight.isEmpty() && (failure != null || issued == buffer.byteSize())) {
                finished = true;
                return true;
            }
            return false;
        }
    }

    /** Registers and sends one DMA_WRITE; {@code request} is the 32-byte buffer its header and address/count go in. */
    private PendingDma sendWrite(long address, MemorySegment data, MemorySegment request) throws VfioException {
        int id = nextId.getAndIncrement() & 0xffff;
        PendingDma p = new PendingDma(id, Thread.currentThread(), null, address, data.byteSize(), null);
        if (pending.putIfAbsent(id, p) != null) {
            throw new VfioException(Errno.EBUSY, "65536 DMA requests outstanding");
        }
        try {
            if (closed) {
                // close() may have failed the pending requests just before ours was added.
                throw new VfioException(Errno.ENODEV, "client disconnected");
            }
            Header.writeCommand(request, id, Command.DMA_WRITE.code(), request.byteSize() + data.byteSize(), false);
            DmaWriteRequest.encodeHeader(request.asSlice(Header.SIZE), address, data.byteSize());
            socket.send(request, data, List.of());
            return p;
        } catch (LinuxException e) {
            pending.remove(id, p);
            throw new VfioException(Errno.ENODEV, "DMA_WRITE: " + e.getMessage(), e);
        } catch (VfioException | RuntimeException e) {
            pending.remove(id, p);
            throw e;
        }
    }

    /** Waits for {@code p}'s reply: its errno (0 for success), ETIMEDOUT, or EINTR when interrupted. */
    private static int await(PendingDma p, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        while (!p.done) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Errno.ETIMEDOUT;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(p, left);
            if (Thread.currentThread().isInterrupted() && !p.done) {
                return Errno.EINTR; // the interrupt stays set for the caller
            }
        }
        return p.errno;
    }

    /** A reply to one of our DMA requests: a DMA_READ's data goes straight into the device's buffer. */
    private void completeDma() {
        int id = Header.msgId(msg);
        PendingDma p = pending.remove(id);
        if (p == null) {
            LOG.log(Level.WARNING, "reply %d matches no request of ours; ignored".formatted(id));
            return;
        }
        MemorySegment payload = payload();
        int errno = 0;
        try {
            if (Header.isError(msg)) {
                errno = Header.error(msg) != 0 ? Header.error(msg) : Errno.EIO;
            } else if (p.readInto != null) {
                long start = DmaReadReply.dataOffset(payload, p.address, p.count);
                if (payload.byteSize() - start != p.count) {
                    errno = Errno.EFAULT; // a short DMA read leaves the device with holes: fail it
                } else if (!receiver.placed()) { // placed: the data went straight into p.readInto
                    copyReply(p, payload, start);
                }
            } else {
                DmaWriteReply r = DmaWriteReply.decode(payload, p.address, p.count);
                if (r.count() != p.count) {
                    errno = Errno.EFAULT;
                }
            }
        } catch (ProtocolException e) {
            LOG.log(Level.WARNING, "bad DMA reply: " + e.getMessage());
            errno = e.errno();
        } catch (RuntimeException e) {
            // e.g. the device's buffer was freed after it gave up waiting: fail that request, keep the session.
            LOG.log(Level.WARNING, "DMA reply could not be delivered: " + e);
            errno = Errno.EIO;
        } finally {
            p.complete(errno);
        }
    }

    /**
     * Copies a DMA_READ reply's data into the device's buffer. Native memory (perhaps confined to
     * the device's thread, which waits in its read) is written only while the transfer holds it
     * alive, as a placed receive is: a device that gave up may have freed it.
     */
    private static void copyReply(PendingDma p, MemorySegment payload, long start) {
        if (!p.readInto.isNative()) {
            MemorySegment.copy(payload, start, p.readInto, 0, p.count);
        } else if (p.hold()) {
            try {
                MemorySegment.copy(payload, start, io.jvfio.linux.MessageReceiver.heldView(p.readInto), 0, p.count);
            } finally {
                p.release();
            }
        }
    }

    private void closeUnclaimedFds() {
        for (int i = 0; i < fds.size(); i++) {
            fds.get(i).close();
        }
        fds.clear();
    }

    /** Ends the session from another thread: the session thread wakes up and cleans up. */
    void disconnect() {
        closed = true;
        socket.shutdown();
    }

    @Override
    public void close() {
        closed = true;
        for (PendingDma p : pending.values()) {
            p.complete(Errno.ENODEV);
        }
        pending.clear();
        dma.attach(null);
        dma.unmapAll();
        if (negotiated) {
            device.close();
        }
        socket.close();
        inMapping.close();
        outMapping.close();
    }

    /**
     * A message buffer of {@code size} bytes. Zeroed heap or arena memory would be resident at once
     * (a megabyte or two per client, whatever the traffic); a memfd mapping costs what is used.
     */
    private static io.jvfio.linux.Mapping buffer(String name, long size) {
        try (Fd fd = io.jvfio.linux.Memfd.create(name, size)) {
            return io.jvfio.linux.Mapping.map(fd, 0, size, true);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot allocate a session buffer: " + e.getMessage(), e);
        }
    }
}
