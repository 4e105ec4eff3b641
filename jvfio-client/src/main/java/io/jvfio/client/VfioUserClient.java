package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.Capabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
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
import io.jvfio.protocol.Header;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.RegionIoFds;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import io.jvfio.protocol.SparseMmapCap;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.Version;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.lang.foreign.Arena;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A connection to a vfio-user server: the VMM side of the protocol, usable by plain userspace.
 *
 * <p>Calls may come from many threads at once; each waits, for at most its timeout, for the reply
 * carrying its own message id. A reader thread receives replies; the server's DMA_READ/DMA_WRITE
 * requests are served by a separate thread from the memory registered with {@link #registerMemory}
 * or {@link #allocateDma}, so they are answered while the caller's own commands are in flight, and
 * the reader never stops reading (no deadlock with a server that blocks sending). In twin-socket
 * mode (if the server offers it) those requests arrive on their own socket.
 *
 * <p>When the server goes away, or sends something that cannot be framed, the connection is dead:
 * every waiting call fails at once with a {@link VfioUserException} (errno ENOTCONN) naming the
 * reason, and so does every later call.
 */
public final class VfioUserClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VfioUserClient.class.getName());
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int ID_SPACE = 1 << 16;

    private final UnixSocket socket;
    private final ClientOptions options;
    private final long maxIncoming;
    /** Calls waiting for a reply, by message id (an array, so registering one allocates nothing). */
    private final AtomicReferenceArray<Call> calls = new AtomicReferenceArray<>(ID_SPACE);
    /**
     * Whoever holds this reads the socket: a caller waiting for its reply (it reads its own reply,
     * and delivers others' replies and the server's requests on the way), or, while no call is
     * waiting, the reader thread. A caller that finds the reader thread polling kicks it off with
     * {@link #wake}.
     */
    private final ReentrantLock readLock = new ReentrantLock();
    private final AtomicInteger waiting = new AtomicInteger();
    private volatile long lastCallEnd = System.nanoTime();
    /** When a server command (DMA_READ/WRITE) last arrived: while they flow, the reader reads between calls. */
    private volatile long lastServerCommand = System.nanoTime() - SERVER_ACTIVE_NANOS;
    private volatile boolean readerPolling;
    private final EventFd wake;
    /** Buffered receive of whoever holds {@link #readLock}: usually one recvmsg per message. */
    private final MessageReceiver<ProtocolException> receiver;
    private final List<Fd> rxFds = new ArrayList<>();
    /** Whether messages (or parts) wait in the receive buffer with no one reading: the reader should look. */
    private volatile boolean rxBuffered;
    /** Whether the socket's SO_RCVTIMEO is set, so a caller may wait for its reply in recvmsg itself. */
    private final boolean timedReceive;
    /** Per-thread request buffer and reusable call of the region-access fast path. */
    private final ThreadLocal<CallBuffers> callBuffers = ThreadLocal.withInitial(CallBuffers::new);
    private final AtomicInteger ids = new AtomicInteger();
    private final DmaMemory memory = new DmaMemory();
    private final Thread reader;
    private final Thread dmaServer;
    private final LinkedBlockingQueue<Answer> answers = new LinkedBlockingQueue<>();
    /** The answer buffer of whoever holds {@link #readLock}. */
    private final AnswerBuffer rxAnswer = new AnswerBuffer();
    private final Set<AutoCloseable> resources = ConcurrentHashMap.newKeySet();
    private volatile VfioUserException dead;
    private volatile boolean closing;
    private volatile UnixSocket twin;
    private Thread twinReader;
    private volatile Capabilities serverCaps = Capabilities.DEFAULTS;
    private volatile int serverMinor;

    /** A reply as received: header facts, payload bytes, fds (owned by the receiver). */
    public record Reply(int flags, int error, MemorySegment payload, List<Fd> fds) {
        /** Closes the fds; for callers that do not want them. */
        public void closeFds() {
            fds.forEach(Fd::close);
        }
    }


    private static final int WAITING = 0, DONE = 1, ABANDONED = 2;

    private static final class Call {
        Command command;
        long maxReplyPayload;
        int maxFds;
        final AtomicInteger state = new AtomicInteger(WAITING);
        volatile Reply reply;
        volatile VfioUserException failure;
        /**
         * Set for the fast path's REGION_READ/WRITE: when the caller itself reads its reply, it is
         * checked (and a read's data copied to {@code readDst}) straight from the receive buffer.
         */
        boolean direct;
        MemorySegment readDst;
        long readDstOffset;
        long readCount;
        int directFlags;
        int directError;
        String directProblem;

        Call(Command command, long maxReplyPayload, int maxFds) {
            reset(command, maxReplyPayload, maxFds);
        }

        /** Readies a (reused) call; visible to the reader through the registration's CAS. */
        void reset(Command command, long maxReplyPayload, int maxFds) {
            this.command = command;
            this.maxReplyPayload = maxReplyPayload;
            this.maxFds = maxFds;
            reply = null;
            failure = null;
            direct = false;
            readDst = null;
            directFlags = 0;
            directError = 0;
            directProblem = null;
            state.set(WAITING);
        }

        /** Completes the call with a reply; false if the caller gave up on it already. */
        boolean complete(Reply r) {
            if (state.get() != WAITING) {
                return false;
            }
            reply = r;
            if (!state.compareAndSet(WAITING, DONE)) {
                reply = null;
                return false;
            }
            return true;
        }

        boolean fail(VfioUserException e) {
            if (state.get() != WAITING) {
                return false;
            }
            failure = e;
            if (!state.compareAndSet(WAITING, DONE)) {
                failure = null;
                return false;
            }
            return true;
        }
    }

    /** A thread's request buffer (native, grown on demand) and the call object it reuses. */
    private static final class CallBuffers {
        private final Arena arena = Arena.ofAuto();
        MemorySegment tx = arena.allocate(256, 8);
        /** The last slice handed out, reused while the size repeats (so a steady loop allocates nothing). */
        MemorySegment slice = tx.asSlice(0, 0);
        final MemorySegment scratch = arena.allocate(8, 8);
        Call call;

        MemorySegment tx(long size) {
            if (size > tx.byteSize()) {
                tx = Arena.ofAuto().allocate(Math.max(size, 2 * tx.byteSize()), 8);
                slice = tx.asSlice(0, 0);
            }
            return tx;
        }

        MemorySegment message(long size) {
            if (slice.byteSize() != size || slice.address() != tx.address()) {
                slice = tx.asSlice(0, size);
            }
            return slice;
        }

        Call call(Command command, long maxReply) {
            Call c = call;
            if (c == null) {
                c = call = new Call(command, maxReply, 0);
            } else {
                c.reset(command, maxReply, 0);
            }
            return c;
        }
    }

    private VfioUserClient(UnixSocket socket, ClientOptions options) throws LinuxException {
        this.wake = EventFd.create();
        this.socket = socket;
        this.options = options;
        this.maxIncoming = options.maxIncomingMessage();
        long max = maxIncoming;
        // Freed with the client (a reader may still hold it while it closes); grown for large messages.
        MemorySegment buffer = Arena.ofAuto().allocate(Math.min(max, RECEIVE_BUFFER), 8);
        this.receiver = new MessageReceiver<>(socket, buffer, Header.SIZE, max, header -> {
            Header.validate(header, max);
            return Header.messageSize(header);
        });
        socket.setMaxReceiveFds(options.maxMsgFds());
        boolean timed = RECEIVE_STRATEGY == RECEIVE_TIMED;
        if (timed) {
            try {
                socket.setReceiveTimeout(RECEIVE_TIMEOUT);
            } catch (LinuxException e) {
                timed = false; // then the caller polls before each receive
            }
        }
        this.timedReceive = timed;
        this.reader = Thread.ofPlatform().name("jvfio-client-reader").daemon().unstarted(this::readLoop);
        this.dmaServer = Thread.ofPlatform().name("jvfio-client-dma").daemon().unstarted(this::serveDmaLoop);
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
        client.reader.start();
        client.dmaServer.start();
        try {
            client.negotiate();
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    private void negotiate() throws IOException {
        // Offer everything we honour. A long request also matters: servers (ours, QEMU-minded ones) never
        // send a VERSION reply longer than the request, and fall back to spec defaults when theirs would be.
        Capabilities ours = Capabilities.DEFAULTS
                .withMaxMsgFds(options.maxMsgFds())
                .withMaxDataXferSize(options.maxDataXferSize())
                .withPgsizes(Linux.PAGE_SIZE)
                .withMaxDmaMaps(Capabilities.DEFAULT_MAX_DMA_MAPS)
                .withMigration(Capabilities.DEFAULT_MIGRATION_PGSIZE, Capabilities.DEFAULT_MIGRATION_MAX_BITMAP_SIZE);
        if (options.offerTwinSocket()) {
            ours = ours.withTwinSocket(true);
        }
        Version proposal = new Version(0, 0, ours);
        Reply r = call(Command.VERSION, proposal, List.of(), options.callTimeout(), maxIncoming,
                options.offerTwinSocket() ? 1 : 0);
        List<Fd> fds = new ArrayList<>(r.fds());
        try {
            Version v = decode(() -> Version.decode(r.payload()), "VERSION reply");
            if (v.major() != proposal.major()) {
                throw new VfioUserException(Errno.EPROTO, "server speaks protocol major " + v.major() + ", this client " + proposal.major());
            }
            if (v.minor() > proposal.minor()) {
                throw new VfioUserException(Errno.EPROTO, "server answered minor " + v.minor() + " to a proposal of " + proposal.minor());
            }
            Capabilities caps = v.capabilitiesOrDefaults();
            serverMinor = v.minor();
            serverCaps = caps;
            if (caps.twinSocketSupported()) {
                if (!options.offerTwinSocket()) {
                    throw new VfioUserException(Errno.EPROTO, "server turned on twin-socket mode, which this client did not offer");
                }
                int index = caps.twinSocketFdIndex().orElse(-1);
                if (index < 0 || index >= fds.size()) {
                    throw new VfioUserException(Errno.EPROTO, "twin_socket reply names fd_index " + index + " but "
                            + fds.size() + " fds came with it");
                }
                Fd twinFd = fds.remove(index);
                startTwin(twinFd);
            }
        } finally {
            fds.forEach(Fd::close);
        }
    }

    private void startTwin(Fd fd) throws IOException {
        if (!Linux.isSocket(fd)) {
            fd.close();
            throw new VfioUserException(Errno.EPROTO, "twin_socket fd is not a socket");
        }
        UnixSocket s = UnixSocket.adopt(fd);
        s.setMaxReceiveFds(1);
        twin = s;
        twinReader = Thread.ofPlatform().name("jvfio-client-twin").daemon().unstarted(() -> twinLoop(s));
        twinReader.start();
    }

    /** What the server said it can take (its max_msg_fds, max_data_xfer_size, ...). */
    public Capabilities serverCapabilities() {
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
        return twin != null;
    }

    /** Largest count of one REGION_READ/WRITE this client sends: both sides' limits. */
    public long transferChunk() {
        return Math.max(1, Math.min(serverCaps.maxDataXferSize(), options.maxDataXferSize()));
    }

    // ---------------------------------------------------------------- device, regions, irqs

    /** DEVICE_GET_INFO with the 16-byte struct (what QEMU asks for). */
    public DeviceInfo deviceInfo() throws IOException {
        return deviceInfo(DeviceInfo.SIZE);
    }

    /**
     * DEVICE_GET_INFO offering {@code argsz} bytes; 24 or more asks for the capability chain. If
     * the server needs more it says so in argsz and the call is repeated once with that size.
     */
    public DeviceInfo deviceInfo(int argsz) throws IOException {
        checkArgsz(argsz, DeviceInfo.SIZE);
        for (int attempt = 0; ; attempt++) {
            int offered = argsz;
            Reply r = typedCall(Command.DEVICE_GET_INFO, DeviceInfo.request(offered), offered);
            DeviceInfo info = decode(() -> DeviceInfo.decode(r.payload()), "DEVICE_GET_INFO reply");
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
    public RegionDescription regionInfo(int index) throws IOException {
        int argsz = RegionInfo.SIZE;
        for (int attempt = 0; attempt < 2; attempt++) {
            int offered = argsz;
            Reply r = call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(offered, index), List.of(),
                    options.callTimeout(), offered, 1);
            RegionInfo info;
            try {
                info = decode(() -> RegionInfo.decode(r.payload()), "DEVICE_GET_REGION_INFO reply");
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

    /** DEVICE_GET_REGION_IO_FDS: the region's ioeventfds; the caller owns the fds that come with it. */
    public record IoFds(RegionIoFds info, List<Fd> fds) implements AutoCloseable {
        @Override
        public void close() {
            fds.forEach(Fd::close);
        }
    }

    public IoFds regionIoFds(int index, int argsz) throws IOException {
        checkArgsz(argsz, RegionIoFds.SIZE);
        Reply r = call(Command.DEVICE_GET_REGION_IO_FDS, RegionIoFds.request(argsz, index), List.of(),
                options.callTimeout(), argsz, options.maxMsgFds());
        try {
            return new IoFds(decode(() -> RegionIoFds.decode(r.payload()), "DEVICE_GET_REGION_IO_FDS reply"), r.fds());
        } catch (IOException e) {
            r.closeFds();
            throw e;
        }
    }

    public IrqInfo irqInfo(int index) throws IOException {
        Reply r = typedCall(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(index), IrqInfo.SIZE);
        IrqInfo info = decode(() -> IrqInfo.decode(r.payload()), "DEVICE_GET_IRQ_INFO reply");
        if (info.index() != index) {
            throw new VfioUserException(Errno.EPROTO, "DEVICE_GET_IRQ_INFO reply is for index " + info.index() + ", asked " + index);
        }
        return info;
    }

    /**
     * Reads {@code dst.byteSize()} bytes of region {@code region} at {@code offset}, in as many
     * messages as the two sides' transfer limits need.
     */
    public void regionRead(int region, long offset, MemorySegment dst) throws IOException {
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("cannot read into a read-only segment");
        }
        long max = transferChunk();
        for (long done = 0; done < dst.byteSize(); ) {
            long n = Math.min(max, dst.byteSize() - done);
            regionAccess(Command.REGION_READ, region, offset + done, dst, done, n, false);
            done += n;
        }
    }

    /**
     * The fast path of REGION_READ/WRITE: the request is built in this thread's native buffer and the
     * caller reads its own reply (no hand-off to another thread); a read's data goes from the receive
     * buffer straight to {@code data}. In steady state nothing is allocated.
     */
    private void regionAccess(Command command, int region, long offset, MemorySegment data, long dataOffset, long n,
            boolean posted) throws IOException {
        checkAlive();
        boolean write = command == Command.REGION_WRITE;
        long size = Header.SIZE + RegionAccess.SIZE + (write ? n : 0);
        CallBuffers b = callBuffers.get();
        MemorySegment tx = b.tx(size);
        tx.set(LE_LONG, Header.SIZE + RegionAccess.OFF_OFFSET, offset);
        tx.set(LE_INT, Header.SIZE + RegionAccess.OFF_REGION, region);
        tx.set(LE_INT, Header.SIZE + RegionAccess.OFF_COUNT, (int) n);
        if (write) {
            MemorySegment.copy(data, dataOffset, tx, Header.SIZE + RegionAccess.SIZE, n);
        }
        MemorySegment message = b.message(size);
        if (posted) {
            Header.writeCommand(tx, ids.getAndIncrement() & 0xffff, command.code(), size, true);
            sendRaw(command, message, List.of());
            return;
        }
        long maxReply = Math.min(maxIncoming, Math.max(write ? RegionAccess.SIZE : RegionAccess.SIZE + n, size - Header.SIZE));
        Call call = b.call(command, maxReply);
        call.direct = true;
        if (!write) {
            call.readDst = data;
            call.readDstOffset = dataOffset;
            call.readCount = n;
        }
        int id = register(call);
        Header.writeCommand(tx, id, command.code(), size, false);
        Reply reply;
        try {
            if (dead != null) {
                throw connectionGone();
            }
            sendRaw(command, message, List.of());
            reply = awaitReply(call, id, options.callTimeout());
        } catch (IOException | RuntimeException e) {
            if (call.state.get() == ABANDONED) {
                b.call = null; // still registered until its late reply: never reuse it
            }
            throw e;
        }
        if (reply == null) {
            if (call.directProblem != null) {
                throw new VfioUserException(Errno.EPROTO, call.directProblem);
            }
            return;
        }
        // Delivered by another thread (it read the socket at the time): the general form.
        MemorySegment p = reply.payload();
        if (!write) {
            if (p.byteSize() != RegionAccess.SIZE + n || RegionAccess.count(p) != n) {
                throw new VfioUserException(Errno.EPROTO, "REGION_READ reply: %d bytes (count %d) for a read of %d"
                        .formatted(p.byteSize(), p.byteSize() >= RegionAccess.SIZE ? RegionAccess.count(p) : -1, n));
            }
            MemorySegment.copy(p, RegionAccess.DATA_OFFSET, data, dataOffset, n);
        }
    }

    /** A direct call's own reply, still in the receive buffer: check it and take a read's data. */
    private void completeDirect(Call call, MemorySegment header, MemorySegment p) {
        call.directFlags = Header.flags(header);
        call.directError = Header.error(header);
        if ((call.directFlags & Header.FLAG_ERROR) == 0) {
            if (p.byteSize() > call.maxReplyPayload) {
                call.directProblem = "%s reply of %d bytes is larger than the %d the call can take"
                        .formatted(call.command, p.byteSize(), call.maxReplyPayload);
            } else if (call.readDst != null) {
                long n = call.readCount;
                if (p.byteSize() != RegionAccess.SIZE + n || RegionAccess.count(p) != n) {
                    call.directProblem = "REGION_READ reply: %d bytes (count %d) for a read of %d"
                            .formatted(p.byteSize(), p.byteSize() >= RegionAccess.SIZE ? RegionAccess.count(p) : -1, n);
                } else {
                    MemorySegment.copy(p, RegionAccess.DATA_OFFSET, call.readDst, call.readDstOffset, n);
                }
            }
        }
        call.readDst = null;
        call.state.set(DONE);
    }

    public byte[] regionRead(int region, long offset, int count) throws IOException {
        byte[] data = new byte[count];
        regionRead(region, offset, MemorySegment.ofArray(data));
        return data;
    }

    /** Writes {@code src} to region {@code region} at {@code offset} and waits for the server. */
    public void regionWrite(int region, long offset, MemorySegment src) throws IOException {
        regionWrite(region, offset, src, false);
    }

    /**
     * With {@code posted}, the writes carry NO_REPLY: the call returns once they are sent, and an
     * error the server meets is not reported. Commands are executed in order, so a later call's
     * reply means the posted writes before it were done.
     */
    public void regionWrite(int region, long offset, MemorySegment src, boolean posted) throws IOException {
        long max = transferChunk();
        for (long done = 0; done < src.byteSize(); ) {
            long n = Math.min(max, src.byteSize() - done);
            regionAccess(Command.REGION_WRITE, region, offset + done, src, done, n, posted);
            done += n;
        }
    }

    /**
     * REGION_WRITE_MULTI: up to 200 small writes (≤ 8 bytes each) in one message; only when the
     * server offered {@code write_multiple}. Returns how many the server completed.
     */
    public long regionWriteMulti(List<RegionWriteMulti.Entry> writes, boolean posted) throws IOException {
        if (!serverCaps.writeMultiple()) {
            throw new VfioUserException(Errno.ENOTSUP, "the server did not offer write_multiple");
        }
        RegionWriteMulti request = new RegionWriteMulti(writes);
        if (posted) {
            post(Command.REGION_WRITE_MULTI, request);
            return writes.size();
        }
        Reply r = typedCall(Command.REGION_WRITE_MULTI, request, RegionWriteMultiReply.SIZE);
        return decode(() -> RegionWriteMultiReply.decode(r.payload()), "REGION_WRITE_MULTI reply").wrCnt();
    }

    public int read8(int region, long offset) throws IOException {
        return Byte.toUnsignedInt(small(Command.REGION_READ, region, offset, 1).get(ValueLayout.JAVA_BYTE, 0));
    }

    public int read16(int region, long offset) throws IOException {
        return Short.toUnsignedInt(small(Command.REGION_READ, region, offset, 2).get(LE_SHORT, 0));
    }

    public int read32(int region, long offset) throws IOException {
        return small(Command.REGION_READ, region, offset, 4).get(LE_INT, 0);
    }

    public long read64(int region, long offset) throws IOException {
        return small(Command.REGION_READ, region, offset, 8).get(LE_LONG, 0);
    }

    public void write8(int region, long offset, int value) throws IOException {
        callBuffers.get().scratch.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
        small(Command.REGION_WRITE, region, offset, 1);
    }

    public void write16(int region, long offset, int value) throws IOException {
        callBuffers.get().scratch.set(LE_SHORT, 0, (short) value);
        small(Command.REGION_WRITE, region, offset, 2);
    }

    public void write32(int region, long offset, int value) throws IOException {
        callBuffers.get().scratch.set(LE_INT, 0, value);
        small(Command.REGION_WRITE, region, offset, 4);
    }

    public void write64(int region, long offset, long value) throws IOException {
        callBuffers.get().scratch.set(LE_LONG, 0, value);
        small(Command.REGION_WRITE, region, offset, 8);
    }

    /** One access of 1-8 bytes through this thread's scratch word (the value to write is already there). */
    private MemorySegment small(Command command, int region, long offset, int n) throws IOException {
        MemorySegment scratch = callBuffers.get().scratch;
        regionAccess(command, region, offset, scratch, 0, n, false);
        return scratch;
    }

    /**
     * Maps an mmap-able region into this process: the whole region, or each area of its SPARSE_MMAP
     * capability (the rest stays reachable through {@link #regionRead}/{@link #regionWrite}).
     * ENOTSUP when the server offers no mapping. The mapping ends with {@link MappedRegion#close()}
     * or with this client.
     */
    public MappedRegion mapRegion(int index) throws IOException {
        try (RegionDescription d = regionInfo(index)) {
            if (!d.mmappable()) {
                throw new VfioUserException(Errno.ENOTSUP, "region " + index + " is not mmap-able");
            }
            RegionInfo info = d.info();
            boolean writable = d.writable();
            List<MappedRegion.Area> areas = new ArrayList<>();
            try {
                SparseMmapCap sparse = info.cap(SparseMmapCap.class);
                if (sparse != null) {
                    for (SparseMmapCap.Area a : sparse.areas()) {
                        if (a.size() == 0) {
                            continue;
                        }
                        checkArea(index, info, a.offset(), a.size());
                        areas.add(new MappedRegion.Area(a.offset(),
                                Mapping.map(d.fd(), info.offset() + a.offset(), a.size(), writable)));
                    }
                } else {
                    checkArea(index, info, 0, info.size());
                    areas.add(new MappedRegion.Area(0, Mapping.map(d.fd(), info.offset(), info.size(), writable)));
                }
            } catch (IOException | RuntimeException e) {
                areas.forEach(a -> a.mapping().close());
                throw e;
            }
            MappedRegion region = new MappedRegion(index, info.size(), writable, areas, resources::remove);
            resources.add(region);
            if (closing) {
                region.close();
                throw connectionGone();
            }
            return region;
        }
    }

    private static void checkArea(int index, RegionInfo info, long offset, long size) throws VfioUserException {
        if (offset < 0 || size <= 0 || offset + size < offset || offset + size > info.size()
                || info.offset() < 0 || info.offset() + offset + size < 0) {
            throw new VfioUserException(Errno.EPROTO, "region %d: mmap area [0x%x, +0x%x) lies outside the region of 0x%x bytes"
                    .formatted(index, offset, size, info.size()));
        }
    }

    // ---------------------------------------------------------------- DMA

    /** DMA_MAP of client memory the server may map: {@code fd} at {@code fileOffset} backs [iova, iova+size). */
    public void dmaMap(long iova, long size, int flags, Fd fd, long fileOffset) throws IOException {
        typedCall(Command.DMA_MAP, DmaMap.of(flags, fileOffset, iova, size), List.of(fd), 0);
    }

    /**
     * Allocates {@code size} bytes of driver memory backed by a memfd, maps it here and DMA_MAPs it
     * at {@code iova} (READ|WRITE) with the fd, so the server can map it too. The same memory also
     * answers DMA_READ/WRITE messages should the server use those. {@link DmaBuffer#close()} unmaps
     * it on both sides.
     */
    public DmaBuffer allocateDma(long iova, long size) throws IOException {
        checkAlive();
        int flags = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
        Mapping mapping;
        try (Fd fd = Memfd.create("jvfio-dma-" + Long.toHexString(iova), size)) {
            mapping = Mapping.map(fd, 0, size, true);
            try {
                memory.add(iova, mapping.segment(), flags);
                try {
                    dmaMap(iova, size, flags, fd, 0);
                } catch (IOException | RuntimeException e) {
                    memory.remove(iova, size);
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                mapping.close();
                throw e;
            }
        }
        DmaBuffer buffer = new DmaBuffer(this, iova, mapping);
        resources.add(buffer);
        return buffer;
    }

    /** Ends a {@link DmaBuffer}: DMA_UNMAP while connected, then the local mapping. */
    void release(DmaBuffer buffer, Mapping mapping) throws IOException {
        resources.remove(buffer);
        try {
            if (usable()) {
                dmaUnmap(buffer.iova(), buffer.size());
            }
        } finally {
            memory.remove(buffer.iova(), buffer.size());
            mapping.close();
        }
    }

    /**
     * Registers {@code memory} at {@code iova} without an fd: the server reaches it only through
     * DMA_READ/DMA_WRITE messages, which this client serves, checked against bounds and {@code flags}.
     * The memory must stay alive until it is unmapped.
     */
    public void registerMemory(long iova, MemorySegment memory, int flags) throws IOException {
        this.memory.add(iova, memory, flags);
        try {
            typedCall(Command.DMA_MAP, DmaMap.of(flags, 0, iova, memory.byteSize()), List.of(), 0);
        } catch (IOException | RuntimeException e) {
            this.memory.remove(iova, memory.byteSize());
            throw e;
        }
    }

    public void dmaUnmap(long iova, long size) throws IOException {
        typedCall(Command.DMA_UNMAP, DmaUnmap.of(iova, size), DmaUnmap.SIZE);
        memory.remove(iova, size);
    }

    public void dmaUnmapAll() throws IOException {
        typedCall(Command.DMA_UNMAP, DmaUnmap.all(), DmaUnmap.SIZE);
        memory.clear();
    }

    // ---------------------------------------------------------------- interrupts

    /**
     * Wires {@code eventfds} as the TRIGGER fds of vectors start..start+n-1 of irq {@code index},
     * in chunks of the server's max_msg_fds. The caller keeps ownership of the eventfds.
     */
    public void setIrqEventfds(int index, int start, List<EventFd> eventfds) throws IOException {
        int chunk = Math.max(1, serverCaps.maxMsgFds());
        for (int i = 0; i < eventfds.size(); i += chunk) {
            List<EventFd> part = eventfds.subList(i, Math.min(eventfds.size(), i + chunk));
            typedCall(Command.DEVICE_SET_IRQS, IrqSet.eventfds(index, Vfio.IRQ_SET_ACTION_TRIGGER, start + i, part.size()),
                    part.stream().map(EventFd::fd).toList(), 0);
        }
    }

    /** Any other SET_IRQS: DATA_NONE or DATA_BOOL with MASK, UNMASK or TRIGGER; or de-assigning eventfds. */
    public void setIrqs(IrqSet request) throws IOException {
        typedCall(Command.DEVICE_SET_IRQS, request, 0);
    }

    /**
     * Creates an eventfd for each of the first {@code count} vectors of irq {@code index}, wires them
     * with SET_IRQS and returns the helper that waits for, polls, or calls back on them.
     */
    public Interrupts interrupts(int index, int count) throws IOException {
        Interrupts irqs = Interrupts.wire(this, index, count);
        resources.add(irqs);
        return irqs;
    }

    void forget(AutoCloseable resource) {
        resources.remove(resource);
    }

    /** INTx unmask (what a VMM sends at the guest's EOI). */
    public void unmaskIntx() throws IOException {
        setIrqs(IrqSet.none(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_UNMASK, 0, 1));
    }

    // ---------------------------------------------------------------- reset, features, migration

    public void reset() throws IOException {
        typedCall(Command.DEVICE_RESET, null, 0);
    }

    /** DEVICE_RESET with its own timeout: a reset may take long. */
    public void reset(Duration timeout) throws IOException {
        call(Command.DEVICE_RESET, null, List.of(), timeout, 0, 0);
    }

    /** DEVICE_FEATURE; returns the reply (for GET the data is appended). */
    public DeviceFeature feature(DeviceFeature request) throws IOException {
        Reply r = typedCall(Command.DEVICE_FEATURE, request, ArgSz.unsigned(request.argsz()));
        DeviceFeature reply = decode(() -> DeviceFeature.decode(r.payload()), "DEVICE_FEATURE reply");
        if (reply.feature() != request.feature()) {
            throw new VfioUserException(Errno.EPROTO, "DEVICE_FEATURE reply is for feature " + reply.feature()
                    + ", asked " + request.feature());
        }
        return reply;
    }

    /**
     * DEVICE_FEATURE PROBE: whether {@code feature} supports the {@code ops} (GET and/or SET bits).
     * EINVAL and ENOTTY from the server mean "no"; other errors are thrown.
     */
    public boolean probeFeature(int feature, int ops) throws IOException {
        try {
            feature(DeviceFeature.of(feature | ops | Vfio.DEVICE_FEATURE_PROBE, null));
            return true;
        } catch (VfioUserException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOTTY) {
                return false;
            }
            throw e;
        }
    }

    /** DEVICE_FEATURE MIGRATION GET: which migration flavours the device supports. */
    public FeatureMigration migrationFeature() throws IOException {
        DeviceFeature r = feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_MIGRATION, FeatureMigration.SIZE, null));
        return decode(() -> FeatureMigration.decode(r.dataSegment()), "DEVICE_FEATURE MIGRATION reply");
    }

    /** DEVICE_FEATURE MIG_DEVICE_STATE GET. */
    public MigrationState migrationState() throws IOException {
        DeviceFeature r = feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE, FeatureMigDeviceState.SIZE, null));
        FeatureMigDeviceState s = decode(() -> FeatureMigDeviceState.decode(r.dataSegment()), "DEVICE_FEATURE MIG_DEVICE_STATE reply");
        return decode(s::state, "DEVICE_FEATURE MIG_DEVICE_STATE reply");
    }

    /** DEVICE_FEATURE MIG_DEVICE_STATE SET: the server completes the whole transition before replying. */
    public void setMigrationState(MigrationState state) throws IOException {
        feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_SET,
                FeatureMigDeviceState.of(state)));
    }

    /** DEVICE_FEATURE DMA_LOGGING_START; returns the page size the server logs at (it may change it). */
    public long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException {
        DeviceFeature r = feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_START | Vfio.DEVICE_FEATURE_SET,
                new FeatureDmaLoggingControl(pageSize, ranges)));
        MemorySegment data = r.dataSegment();
        return data.byteSize() >= 8 ? data.get(LE_LONG, 0) : pageSize;
    }

    public void stopDmaLogging() throws IOException {
        feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP | Vfio.DEVICE_FEATURE_SET, null));
    }

    /** DEVICE_FEATURE DMA_LOGGING_REPORT GET: the dirty bitmap of [iova, iova+length) at {@code pageSize}. */
    public FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize) throws IOException {
        FeatureDmaLoggingReport request = FeatureDmaLoggingReport.request(iova, length, pageSize);
        long replyData = FeatureDmaLoggingReport.SIZE + request.expectedBitmapSize();
        if (replyData > options.maxDataXferSize()) {
            throw new VfioUserException(Errno.E2BIG, "a dirty bitmap of " + request.expectedBitmapSize()
                    + " bytes exceeds this client's transfer limit; ask for a smaller range");
        }
        DeviceFeature r = feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT, replyData, request));
        FeatureDmaLoggingReport report = decode(() -> FeatureDmaLoggingReport.decode(r.dataSegment()), "DMA_LOGGING_REPORT reply");
        if (report.iova() != iova || report.length() != length || report.pageSize() != pageSize
                || report.bitmap().length != request.expectedBitmapSize()) {
            throw new VfioUserException(Errno.EPROTO, "DMA_LOGGING_REPORT reply does not answer the request: " + report);
        }
        return report;
    }

    /** MIG_DATA_READ of up to {@code size} bytes; a shorter answer means no more data for now. */
    public byte[] migDataRead(int size) throws IOException {
        if (size < 0 || size > options.maxDataXferSize()) {
            throw new IllegalArgumentException("size must be in [0, " + options.maxDataXferSize() + "]: " + size);
        }
        Reply r = typedCall(Command.MIG_DATA_READ, MigDataReadRequest.of(size), MigDataReadRequest.SIZE + (long) size);
        MigData reply = decode(() -> MigData.decodeAllowingPadding(r.payload(), size), "MIG_DATA_READ reply");
        return reply.data();
    }

    /** MIG_DATA_WRITE of {@code data}, in chunks of the transfer limit (partial writes are not allowed, so each chunk is whole). */
    public void migDataWrite(byte[] data) throws IOException {
        int chunk = (int) Math.min(Integer.MAX_VALUE, transferChunk());
        int done = 0;
        do {
            int n = Math.min(chunk, data.length - done);
            byte[] part = java.util.Arrays.copyOfRange(data, done, done + n);
            typedCall(Command.MIG_DATA_WRITE, MigData.of(part), MigData.SIZE);
            done += n;
        } while (done < data.length);
    }

    /** GET_PRECOPY_INFO (pending in the spec). */
    public PrecopyInfo precopyInfo() throws IOException {
        Reply r = typedCall(Command.GET_PRECOPY_INFO, PrecopyInfo.request(), PrecopyInfo.SIZE);
        return decode(() -> PrecopyInfo.decode(r.payload()), "GET_PRECOPY_INFO reply");
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

    /** A typed call whose reply carries no fds (any that come are closed) and at most {@code maxReply} payload bytes. */
    private Reply typedCall(Command command, Payload request, long maxReply) throws IOException {
        return typedCall(command, request, List.of(), maxReply);
    }

    private Reply typedCall(Command command, Payload request, List<Fd> fds, long maxReply) throws IOException {
        return call(command, request, fds, options.callTimeout(), maxReply, 0);
    }

    private Reply call(Command command, Payload request, List<Fd> fds, Duration timeout, long maxReply, int maxReplyFds)
            throws IOException {
        checkAlive();
        if (fds.size() > Math.max(1, serverCaps.maxMsgFds())) {
            throw new VfioUserException(Errno.E2BIG, command + ": " + fds.size() + " fds exceed the server's max_msg_fds "
                    + serverCaps.maxMsgFds());
        }
        long requestSize = request == null ? 0 : request.encodedSize();
        // Like QEMU: a reply may be as large as the request, or as the call says it can take.
        Call call = new Call(command, Math.min(maxIncoming, Math.max(maxReply, requestSize)), maxReplyFds);
        int id = register(call);
        try {
            if (dead != null) {          // died between checkAlive and register: the reader may not have seen us
                throw connectionGone();
            }
            send(socket, id, command, request, fds, false);
        } catch (IOException | RuntimeException e) {
            calls.compareAndSet(id, call, null);
            throw e;
        }
        Reply reply = awaitReply(call, id, timeout);
        if (reply == null) {
            throw connectionGone();
        }
        return reply;
    }

    /**
     * Waits for {@code call}'s reply, reading the socket itself whenever no one else does, and
     * frees its id. Returns the reply (its error flag already turned into an exception), or null
     * when the caller's own read completed a direct call in place.
     */
    private Reply awaitReply(Call call, int id, Duration timeout) throws IOException {
        Command command = call.command;
        boolean interrupted = false;
        long deadline = System.nanoTime() + Math.max(1_000_000L, timeout.toNanos());
        waiting.incrementAndGet();
        try {
            while (call.state.get() == WAITING) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                if (!readLock.tryLock()) {
                    if (readerPolling) {
                        kickReader();
                    }
                    try {
                        if (!readLock.tryLock(left, TimeUnit.NANOSECONDS)) {
                            break;
                        }
                    } catch (InterruptedException e) {
                        interrupted = true;
                        break;
                    }
                }
                try {
                    readUntilDone(call, deadline);
                } finally {
                    readLock.unlock();
                }
            }
        } finally {
            long now = System.nanoTime();
            lastCallEnd = now;
            if (waiting.decrementAndGet() == 0 && now - lastServerCommand < SERVER_ACTIVE_NANOS) {
                LockSupport.unpark(reader); // the server is sending requests: read them between our calls too
            }
        }
        if (call.state.get() == WAITING && call.state.compareAndSet(WAITING, ABANDONED)) {
            // The id stays taken until the late reply arrives and is dropped, so it cannot be misrouted.
            if (interrupted) {
                Thread.currentThread().interrupt();
                throw new VfioUserException(Errno.EINTR, command + ": interrupted");
            }
            throw new VfioUserException(Errno.ETIMEDOUT, command + ": no reply within " + timeout);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        calls.compareAndSet(id, call, null);
        if (call.failure != null) {
            throw call.failure;
        }
        Reply reply = call.reply;
        if (reply == null) {
            if (!call.direct) {
                throw connectionGone();
            }
            if ((call.directFlags & Header.FLAG_ERROR) != 0) {
                throw VfioUserException.serverError(command.toString(), call.directError != 0 ? call.directError : Errno.EIO);
            }
            return null;
        }
        if ((reply.flags() & Header.FLAG_ERROR) != 0) {
            reply.closeFds();
            throw VfioUserException.serverError(command.toString(), reply.error() != 0 ? reply.error() : Errno.EIO);
        }
        return reply;
    }

    /** With the read lock: reads messages until {@code call} is answered, the deadline passes or the connection dies. */
    private void readUntilDone(Call call, long deadline) {
        try {
            while (call.state.get() == WAITING && dead == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                // Timed: wait in recvmsg itself (bounded by SO_RCVTIMEO), one system call per reply. Otherwise
                // (or once the timeout passed) poll for the rest of the deadline, then receive.
                int r;
                if (timedReceive) {
                    r = readOne(call, MessageReceiver.Wait.TIMED);
                } else if (RECEIVE_STRATEGY == RECEIVE_POLL) {
                    r = readOne(call, MessageReceiver.Wait.BUFFERED);
                } else {
                    r = readOne(call, MessageReceiver.Wait.DONT_WAIT);
                }
                if (r == MessageReceiver.NOTHING) {
                    int millis = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
                    if (Linux.poll(socket.fd(), POLLIN, millis) == 0) {
                        continue;
                    }
                    r = readOne(call, MessageReceiver.Wait.DONT_WAIT);
                }
                if (r == MessageReceiver.END) {
                    markDead(new VfioUserException(Errno.ENOTCONN, closing ? "the client was closed"
                            : "the server closed the connection"));
                    return;
                }
            }
        } catch (Throwable t) {
            markDead(deathCause(t));
        }
    }

    private static final int POLLIN = 1;
    /** How a caller waits for its reply: in recvmsg with SO_RCVTIMEO (default); MSG_DONTWAIT then poll; poll first. */
    private static final int RECEIVE_TIMED = 0, RECEIVE_DONT_WAIT_FIRST = 1, RECEIVE_POLL = 2;
    private static final int RECEIVE_STRATEGY = switch (System.getProperty("jvfio.client.receive", "timed")) {
        case "dontwait" -> RECEIVE_DONT_WAIT_FIRST;
        case "poll" -> RECEIVE_POLL;
        default -> RECEIVE_TIMED;
    };
    /** SO_RCVTIMEO of the client's socket: a caller in recvmsg looks at its deadline this often. */
    private static final Duration RECEIVE_TIMEOUT = Duration.ofMillis(20);
    /** First size of the receive buffer (grown up to the largest message the client takes). */
    private static final long RECEIVE_BUFFER = 64 << 10;
    /** The reader thread leaves the socket to callers while they wait, and for this long after. */
    private static final long READER_IDLE_NANOS = 2_000_000;
    /** How long after a server command the reader takes the socket back as soon as no call waits. */
    private static final long SERVER_ACTIVE_NANOS = 100_000_000;

    private void kickReader() {
        try {
            wake.signal();
        } catch (LinuxException e) {
            // closed: the client is going away and the reader with it
        }
    }

    /**
     * Receives one whole message with the read lock held (waiting as {@code wait} says) and routes
     * it: {@code mine}'s own direct reply is handled in place, anything else is copied out and
     * delivered or queued. Returns {@link MessageReceiver#MESSAGE}, {@code END} or {@code NOTHING}.
     */
    private int readOne(Call mine, MessageReceiver.Wait wait) throws IOException, ProtocolException {
        try {
            return route(mine, receiver.next(rxFds, wait));
        } finally {
            rxBuffered = receiver.buffered() > 0;
        }
    }

    private int route(Call mine, int r) throws IOException {
        if (r != MessageReceiver.MESSAGE) {
            return r;
        }
        MemorySegment header = receiver.message();
        MemorySegment payload = receiver.body();
        try {
            if (Header.isReply(header)) {
                int id = Header.msgId(header);
                if (mine != null && mine.direct && rxFds.isEmpty() && calls.get(id) == mine
                        && mine.command.code() == Header.command(header) && mine.state.get() == WAITING) {
                    completeDirect(mine, header, payload);
                } else {
                    deliver(header, heapCopy(payload), rxFds);
                }
            } else {
                lastServerCommand = System.nanoTime();
                closeUnexpected(rxFds, "server command " + Header.command(header));
                serveCommand(socket, header, payload, rxAnswer, SEND_OR_DEFER);
            }
        } finally {
            rxFds.clear();
        }
        return r;
    }

    private static MemorySegment heapCopy(MemorySegment payload) {
        return MemorySegment.ofArray(payload.toArray(ValueLayout.JAVA_BYTE));
    }

    /** Sends a whole message prepared by the caller. */
    private void sendRaw(Command command, MemorySegment message, List<Fd> fds) throws IOException {
        try {
            socket.send(message, fds);
        } catch (LinuxException e) {
            VfioUserException gone = new VfioUserException(Errno.ENOTCONN, command + ": cannot send to the server: " + e.getMessage(), e);
            markDead(gone);
            throw dead != null ? new VfioUserException(Errno.ENOTCONN, command + ": " + dead.getMessage(), e) : gone;
        }
    }

    /** Sends a command with NO_REPLY. */
    public void post(Command command, Payload request) throws IOException {
        checkAlive();
        send(socket, ids.getAndIncrement() & 0xffff, command, request, List.of(), true);
    }

    /** Takes a free message id for {@code call}: ids of calls in flight (or abandoned and still unanswered) are skipped. */
    private int register(Call call) throws VfioUserException {
        for (int i = 0; i < ID_SPACE; i++) {
            int id = ids.getAndIncrement() & 0xffff;
            if (calls.compareAndSet(id, null, call)) {
                return id;
            }
        }
        throw new VfioUserException(Errno.EBUSY, "all 65536 message ids are in use");
    }

    private void send(UnixSocket to, int id, Command command, Payload request, List<Fd> fds, boolean noReply) throws IOException {
        long size = Header.SIZE + (request == null ? 0 : request.encodedSize());
        if (size > Header.MAX_MESSAGE_SIZE || size > Integer.MAX_VALUE - 8) {
            throw new VfioUserException(Errno.E2BIG, command + ": message of " + size + " bytes is too large");
        }
        MemorySegment message = MemorySegment.ofArray(new byte[(int) size]);
        Header.writeCommand(message, id, command.code(), size, noReply);
        if (request != null) {
            request.encode(message.asSlice(Header.SIZE));
        }
        try {
            to.send(message, fds);
        } catch (LinuxException e) {
            VfioUserException gone = new VfioUserException(Errno.ENOTCONN, command + ": cannot send to the server: " + e.getMessage(), e);
            markDead(gone);
            throw dead != null ? new VfioUserException(Errno.ENOTCONN, command + ": " + dead.getMessage(), e) : gone;
        }
    }

    private void checkAlive() throws VfioUserException {
        if (dead != null) {
            throw connectionGone();
        }
    }

    private VfioUserException connectionGone() {
        VfioUserException d = dead;
        String why = d != null ? d.getMessage() : closing ? "the client was closed" : "connection closed";
        return new VfioUserException(Errno.ENOTCONN, why, d);
    }

    /** Records why the connection died (the first reason wins) and fails every waiting call. */
    private void markDead(VfioUserException why) {
        synchronized (this) {
            if (dead == null) {
                dead = why;
                if (!closing) {
                    LOG.log(Level.WARNING, why.getMessage());
                }
            }
        }
        for (int id = 0; id < ID_SPACE; id++) {
            Call c = calls.get(id);
            if (c != null && !c.fail(connectionGone())) {
                calls.compareAndSet(id, c, null); // abandoned: nobody waits
            }
        }
        answers.offer(POISON);
        LockSupport.unpark(reader);
        kickReader();
        socket.shutdown();
        UnixSocket t = twin;
        if (t != null) {
            t.shutdown();
        }
    }


    // ---------------------------------------------------------------- the reader

    /**
     * The reader thread reads the socket while no call waits (the server's DMA requests, a hang-up),
     * and otherwise stays out of the callers' way: they read their own replies.
     */
    private void readLoop() {
        try {
            while (dead == null) {
                while (dead == null && (waiting.get() > 0 || (System.nanoTime() - lastCallEnd < READER_IDLE_NANOS
                        && System.nanoTime() - lastServerCommand >= SERVER_ACTIVE_NANOS && !rxBuffered))) {
                    LockSupport.parkNanos(READER_IDLE_NANOS);
                }
                if (dead != null || !readLock.tryLock()) {
                    continue;
                }
                try {
                    readerPolling = true;
                    while (dead == null && waiting.get() == 0) {
                        if (readOne(null, MessageReceiver.Wait.BUFFERED) == MessageReceiver.MESSAGE) {
                            continue; // left in the buffer by a caller's read
                        }
                        int ready = Linux.pollIn(socket.fd(), wake.fd(), -1);
                        if ((ready & 2) != 0) {
                            wake.read();
                        }
                        if ((ready & 1) != 0 && readOne(null, MessageReceiver.Wait.DONT_WAIT) == MessageReceiver.END) {
                            markDead(new VfioUserException(Errno.ENOTCONN, closing ? "the client was closed"
                                    : "the server closed the connection"));
                            return;
                        }
                    }
                } finally {
                    readerPolling = false;
                    readLock.unlock();
                }
            }
        } catch (Throwable t) {
            markDead(deathCause(t));
        }
    }

    private VfioUserException deathCause(Throwable t) {
        if (closing) {
            return new VfioUserException(Errno.ENOTCONN, "the client was closed", t);
        }
        if (t instanceof ProtocolException p) {
            return new VfioUserException(Errno.ENOTCONN, "malformed message from the server: " + p.getMessage(), p);
        }
        if (t instanceof java.io.EOFException) {
            return new VfioUserException(Errno.ENOTCONN, "the server closed the connection in the middle of a message", t);
        }
        if (t instanceof IOException) {
            return new VfioUserException(Errno.ENOTCONN, "connection to the server failed: " + t.getMessage(), t);
        }
        return new VfioUserException(Errno.ENOTCONN, "client reader failed: " + t, t);
    }

    /** One whole message: the header into {@code header}, the payload returned; null at a clean end of stream. */
    private MemorySegment receiveMessage(UnixSocket from, MemorySegment header, List<Fd> fds) throws IOException, ProtocolException {
        if (!from.receiveFully(header, fds)) {
            return null;
        }
        Header.validate(header, maxIncoming);
        long payloadSize = Header.payloadSize(header);
        MemorySegment payload = MemorySegment.ofArray(new byte[(int) payloadSize]);
        if (payloadSize > 0 && !from.receiveFully(payload, fds)) {
            throw new java.io.EOFException("end of stream before a " + payloadSize + "-byte payload");
        }
        return payload;
    }

    private void deliver(MemorySegment header, MemorySegment payload, List<Fd> fds) {
        int id = Header.msgId(header);
        Call call = calls.get(id);
        if (call == null || call.command.code() != Header.command(header)) {
            LOG.log(Level.WARNING, "reply %d (command %d) matches no call; dropped".formatted(id, Header.command(header)));
            fds.forEach(Fd::close);
            return;
        }
        if (call.state.get() == ABANDONED) {
            LOG.log(Level.DEBUG, "late reply %d to %s dropped".formatted(id, call.command));
            calls.compareAndSet(id, call, null);
            fds.forEach(Fd::close);
            return;
        }
        if (payload.byteSize() > call.maxReplyPayload) {
            fds.forEach(Fd::close);
            call.fail(new VfioUserException(Errno.EPROTO, "%s reply of %d bytes is larger than the %d the call can take"
                    .formatted(call.command, payload.byteSize(), call.maxReplyPayload)));
            return;
        }
        List<Fd> mine = List.copyOf(fds);
        if (mine.size() > call.maxFds) {
            mine.forEach(Fd::close);
            if (call.maxFds > 0) {
                call.fail(new VfioUserException(Errno.EPROTO, "%s reply carried %d fds, at most %d expected"
                        .formatted(call.command, mine.size(), call.maxFds)));
                return;
            }
            LOG.log(Level.WARNING, "%s reply carried %d unexpected fds; closed".formatted(call.command, mine.size()));
            mine = List.of();
        }
        if (!call.complete(new Reply(Header.flags(header), Header.error(header), payload, mine))) {
            mine.forEach(Fd::close); // the caller gave up in the meantime
            if (call.state.get() == ABANDONED) {
                calls.compareAndSet(id, call, null);
            }
        }
    }

    private static void closeUnexpected(List<Fd> fds, String what) {
        if (!fds.isEmpty()) {
            LOG.log(Level.WARNING, "%s carried %d fds; closed".formatted(what, fds.size()));
            fds.forEach(Fd::close);
            fds.clear();
        }
    }

    /** A thread's 32-byte buffer for the header of an answer (and a DMA reply's address and count), and its 16-byte view. */
    private static final class AnswerBuffer {
        final MemorySegment full = Arena.ofAuto().allocate(Header.SIZE + DmaWriteReply.SIZE, 8);
        final MemorySegment header = full.asSlice(0, Header.SIZE);
        final MemorySegment body = full.asSlice(Header.SIZE);
    }

    /** How an answer goes out: tried at once by the reading thread, else deferred; deferred; sent (waiting). */
    private static final int SEND_OR_DEFER = 0, DEFER = 1, SEND = 2;

    /**
     * Serves a server→client command on the thread that read it: a DMA_WRITE's data goes from the
     * receive buffer straight into the registered memory, a DMA_READ's reply is sent straight from
     * it (no copies on the heap); anything else gets EINVAL. The thread that reads the main socket
     * ({@link #SEND_OR_DEFER}) sends the answer only if the socket takes it at once, else the DMA
     * thread sends it: the reading thread never waits on a send.
     */
    private void serveCommand(UnixSocket replyTo, MemorySegment header, MemorySegment payload, AnswerBuffer tx,
            int mode) throws IOException {
        int id = Header.msgId(header);
        int code = Header.command(header);
        int errno = 0;
        long address = 0, count = 0;
        try {
            if (code == Command.DMA_READ.code()) {
                DmaReadRequest r = DmaReadRequest.decode(payload, options.maxDataXferSize());
                address = r.address();
                count = r.count();
            } else if (code == Command.DMA_WRITE.code()) {
                count = DmaWriteRequest.validate(payload, options.maxDataXferSize());
                address = DmaWriteRequest.address(payload);
                memory.write(address, payload.asSlice(DmaWriteRequest.SIZE, count));
            } else {
                throw new ProtocolException(Errno.EINVAL, "command " + code + " is not one a server may send");
            }
        } catch (ProtocolException e) {
            LOG.log(Level.DEBUG, "server request %d refused: %s".formatted(code, e.getMessage()));
            errno = e.errno();
        }
        if (!Header.isNoReply(header)) {
            answer(new Answer(replyTo, id, code, errno, address, count, null), tx, mode);
        }
    }

    /**
     * The answer to a server command: an error, a DMA_WRITE's (address, count), or a DMA_READ's data
     * from registered memory ({@code snapshot}: taken when the answer was deferred, so it shows the
     * memory as it was when the request was read).
     */
    private record Answer(UnixSocket replyTo, int id, int code, int errno, long address, long count, MemorySegment snapshot) {}

    private static final Answer POISON = new Answer(null, -1, -1, 0, 0, 0, null);

    /** Sends {@code a} as {@code mode} says; a deferred answer goes to the DMA thread. */
    private void answer(Answer a, AnswerBuffer tx, int mode) throws IOException {
        int errno = a.errno();
        MemorySegment data = MemorySegment.NULL;
        boolean held = errno == 0 && a.code() == Command.DMA_READ.code() && a.snapshot() == null;
        try {
            if (held) {
                try {
                    data = memory.acquire(a.address(), a.count(), Vfio.DMA_MAP_FLAG_READ);
                } catch (ProtocolException e) {
                    LOG.log(Level.DEBUG, "server request %d refused: %s".formatted(a.code(), e.getMessage()));
                    errno = e.errno();
                }
            } else if (a.snapshot() != null) {
                data = a.snapshot();
            }
            if (mode != DEFER) {
                MemorySegment head;
                if (errno != 0) {
                    Header.writeErrorReply(tx.header, a.id(), a.code(), errno);
                    head = tx.header;
                    data = MemorySegment.NULL;
                } else {
                    Header.writeReply(tx.full, a.id(), a.code(), Header.SIZE + DmaWriteReply.SIZE + data.byteSize());
                    if (a.code() == Command.DMA_READ.code()) {
                        DmaReadReply.encodeHeader(tx.body, a.address(), a.count());
                    } else {
                        DmaWriteReply.encode(tx.body, a.address(), a.count());
                    }
                    head = tx.full;
                }
                if (mode == SEND) {
                    a.replyTo().send(head, data, List.of());
                    return;
                }
                if (a.replyTo().trySend(head, data, absorber)) {
                    return;
                }
            }
            MemorySegment snapshot = null;
            if (errno == 0 && a.code() == Command.DMA_READ.code()) {
                try {
                    snapshot = MemorySegment.ofArray(data.toArray(ValueLayout.JAVA_BYTE));
                } catch (IllegalStateException released) {
                    errno = Errno.EFAULT;
                }
            }
            answers.add(new Answer(a.replyTo(), a.id(), a.code(), errno, a.address(), a.count(), snapshot));
        } finally {
            if (held) {
                memory.release();
            }
        }
    }

    /**
     * While the reading thread waits to finish an answer, it takes in what the server sends (see
     * UnixSocket.trySend); when its buffer is full it handles the complete messages in it without
     * sending anything (replies delivered, answers deferred to the DMA thread), so it never stops
     * reading, however much the server sends meanwhile.
     */
    private final UnixSocket.WhileFull absorber = new UnixSocket.WhileFull() {
        private final List<Fd> fds = new ArrayList<>();

        @Override
        public boolean canAbsorb() {
            return true;
        }

        @Override
        public boolean absorb() throws IOException {
            if (!receiver.canAbsorb()) {
                try {
                    while (receiver.next(fds, MessageReceiver.Wait.BUFFERED) == MessageReceiver.MESSAGE) {
                        MemorySegment header = receiver.message();
                        MemorySegment payload = receiver.body();
                        if (Header.isReply(header)) {
                            deliver(header, heapCopy(payload), fds);
                        } else {
                            lastServerCommand = System.nanoTime();
                            closeUnexpected(fds, "server command " + Header.command(header));
                            serveCommand(socket, header, payload, null, DEFER);
                        }
                        fds.clear();
                    }
                } catch (ProtocolException e) {
                    throw new IOException("malformed message from the server: " + e.getMessage(), e);
                } finally {
                    fds.forEach(Fd::close);
                    fds.clear();
                }
            }
            return receiver.canAbsorb() && receiver.absorb();
        }
    };

    /** The DMA thread: sends the answers the reading thread could not send at once. */
    private void serveDmaLoop() {
        AnswerBuffer tx = new AnswerBuffer();
        try {
            while (true) {
                Answer a = answers.take();
                if (a == POISON) {
                    return;
                }
                answer(a, tx, SEND);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            markDead(closing ? new VfioUserException(Errno.ENOTCONN, "the client was closed", t)
                    : new VfioUserException(Errno.ENOTCONN, "cannot answer the server's DMA request: " + t.getMessage(), t));
        }
    }

    /** Twin-socket mode: server→client commands arrive here and are answered here, in order. */
    private void twinLoop(UnixSocket s) {
        MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
        AnswerBuffer tx = new AnswerBuffer();
        List<Fd> fds = new ArrayList<>();
        try {
            while (true) {
                MemorySegment payload = receiveMessage(s, header, fds);
                if (payload == null) {
                    if (!closing && dead == null) {
                        markDead(new VfioUserException(Errno.ENOTCONN, "the server closed the twin socket"));
                    }
                    return;
                }
                closeUnexpected(fds, "twin-socket message");
                if (Header.isReply(header)) {
                    throw new ProtocolException(Errno.EINVAL, "a reply (id " + Header.msgId(header) + ") arrived on the twin socket");
                }
                serveCommand(s, header, payload, tx, SEND);
            }
        } catch (Throwable t) {
            if (dead == null) {
                markDead(deathCause(t));
            }
        } finally {
            fds.forEach(Fd::close);
        }
    }

    // ---------------------------------------------------------------- helpers

    private void checkArgsz(int argsz, int min) {
        if (argsz < min || argsz > maxIncoming) {
            throw new IllegalArgumentException("argsz must be in [" + min + ", " + maxIncoming + "]: " + Integer.toUnsignedString(argsz));
        }
    }

    private interface Decoder<T> {
        T decode() throws ProtocolException;
    }

    private static <T> T decode(Decoder<T> decoder, String what) throws VfioUserException {
        try {
            return decoder.decode();
        } catch (ProtocolException e) {
            throw new VfioUserException(Errno.EPROTO, what + ": " + e.getMessage(), e);
        } catch (RuntimeException e) { // a decoder that trips over hostile bytes must not escape as an unchecked surprise
            throw new VfioUserException(Errno.EPROTO, what + ": " + e, e);
        }
    }

    /** Whether the connection is still up. */
    public boolean isConnected() {
        return dead == null;
    }

    /** Connected and not being closed: worth sending a tidy-up command. */
    boolean usable() {
        return dead == null && !closing;
    }

    /** Why the connection died, if it did. */
    public java.util.Optional<VfioUserException> failure() {
        return java.util.Optional.ofNullable(dead);
    }

    /**
     * Closes the connection: mapped regions, DMA buffers and interrupt helpers are released locally
     * (the server drops its DMA windows and eventfds when the client goes), waiting calls fail.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
        }
        for (AutoCloseable r : List.copyOf(resources)) {
            try {
                r.close();
            } catch (Exception e) {
                LOG.log(Level.WARNING, "closing " + r + ": " + e.getMessage());
            }
        }
        resources.clear();
        markDead(new VfioUserException(Errno.ENOTCONN, "the client was closed"));
        join(reader);
        join(dmaServer);
        if (twinReader != null) {
            join(twinReader);
        }
        UnixSocket t = twin;
        if (t != null) {
            t.close();
        }
        socket.close();
        wake.close();
        memory.clear();
    }

    private static void join(Thread t) {
        if (t == Thread.currentThread()) {
            return;
        }
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
