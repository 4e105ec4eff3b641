package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.Capabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaReadRequest;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.DmaWriteRequest;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.Version;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A connection to a vfio-user server: the VMM side of the protocol, usable by plain userspace.
 *
 * <p>Calls may come from many threads at once; each waits for the reply with its own message id.
 * A reader thread receives replies and serves the server's DMA_READ/DMA_WRITE requests from the
 * memory registered with {@link #registerMemory} while the caller's commands are in flight. When
 * the server goes away every waiting call fails at once.
 */
public final class VfioUserClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VfioUserClient.class.getName());

    private final UnixSocket socket;
    private final ClientOptions options;
    private final ConcurrentHashMap<Integer, Call> calls = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    private final DmaMemory memory = new DmaMemory();
    private final Thread reader;
    private volatile IOException dead;
    private Capabilities serverCaps = Capabilities.DEFAULTS;
    private int serverMinor;

    /** A reply as received: header facts, payload bytes, fds (owned by the receiver). */
    public record Reply(int flags, int error, MemorySegment payload, List<Fd> fds) {}

    private static final class Call {
        final Command command;
        final CountDownLatch done = new CountDownLatch(1);
        volatile Reply reply;

        Call(Command command) {
            this.command = command;
        }
    }

    private VfioUserClient(UnixSocket socket, ClientOptions options) {
        this.socket = socket;
        this.options = options;
        socket.setMaxReceiveFds(options.maxMsgFds());
        this.reader = Thread.ofPlatform().name("jvfio-client-reader").daemon().unstarted(this::readLoop);
    }

    /** Connects to the server at {@code path} and negotiates the protocol version. */
    public static VfioUserClient connect(Path path) throws IOException {
        return connect(path, ClientOptions.defaults());
    }

    public static VfioUserClient connect(Path path, ClientOptions options) throws IOException {
        return open(UnixSocket.connect(path), options);
    }

    /** Uses an already-connected socket (e.g. one end of a socketpair, or an inherited fd). */
    public static VfioUserClient open(UnixSocket socket, ClientOptions options) throws IOException {
        VfioUserClient client = new VfioUserClient(socket, options);
        client.reader.start();
        try {
            client.negotiate();
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    private void negotiate() throws IOException {
        Capabilities ours = Capabilities.DEFAULTS
                .withMaxMsgFds(options.maxMsgFds())
                .withMaxDataXferSize(options.maxDataXferSize());
        Reply r = call(Command.VERSION, new Version(0, 0, ours), List.of());
        Version v = decode(() -> Version.decode(r.payload()), "VERSION reply");
        if (v.major() != 0) {
            throw new VfioUserException(Errno.EPROTO, "server speaks protocol major " + v.major() + ", this client 0");
        }
        serverMinor = v.minor();
        serverCaps = v.capabilitiesOrDefaults();
    }

    /** What the server said it can take (its max_msg_fds, max_data_xfer_size, ...). */
    public Capabilities serverCapabilities() {
        return serverCaps;
    }

    public int serverMinorVersion() {
        return serverMinor;
    }

    // ---- typed calls ----

    /** DEVICE_GET_INFO with the 16-byte struct (what QEMU asks for). */
    public DeviceInfo deviceInfo() throws IOException {
        return deviceInfo(DeviceInfo.SIZE);
    }

    /** DEVICE_GET_INFO offering {@code argsz} bytes; ≥ 24 asks for the capability chain. Retries once if the server needs more. */
    public DeviceInfo deviceInfo(int argsz) throws IOException {
        Reply r = call(Command.DEVICE_GET_INFO, DeviceInfo.request(argsz), List.of());
        DeviceInfo info = decode(() -> DeviceInfo.decode(r.payload()), "DEVICE_GET_INFO reply");
        if (argsz >= DeviceInfo.SIZE_WITH_CAP_OFFSET && info.truncated() && ArgSz.unsigned(info.argsz()) > argsz) {
            return deviceInfo(info.argsz());
        }
        return info;
    }

    /** A region's info; the fd for mmap-able regions comes with it (see {@link RegionDescription}). */
    public RegionDescription regionInfo(int index) throws IOException {
        int argsz = RegionInfo.SIZE;
        for (int attempt = 0; attempt < 2; attempt++) {
            Reply r = call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(argsz, index), List.of());
            RegionInfo info;
            try {
                info = decode(() -> RegionInfo.decode(r.payload()), "DEVICE_GET_REGION_INFO reply");
            } catch (IOException e) {
                r.fds().forEach(Fd::close);
                throw e;
            }
            if (!info.truncated()) {
                if (r.fds().size() > 1) {
                    r.fds().forEach(Fd::close);
                    throw new VfioUserException(Errno.EPROTO, "region " + index + ": " + r.fds().size() + " fds in the reply, expected at most 1");
                }
                return new RegionDescription(info, r.fds().isEmpty() ? null : r.fds().getFirst());
            }
            r.fds().forEach(Fd::close);
            argsz = info.argsz();
        }
        throw new VfioUserException(Errno.EPROTO, "region " + index + ": server keeps asking for a larger argsz");
    }

    public IrqInfo irqInfo(int index) throws IOException {
        Reply r = call(Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(index), List.of());
        return decode(() -> IrqInfo.decode(r.payload()), "DEVICE_GET_IRQ_INFO reply");
    }

    /** Reads {@code dst.byteSize()} bytes of region {@code region} at {@code offset}, in as many messages as the server's limit needs. */
    public void regionRead(int region, long offset, MemorySegment dst) throws IOException {
        long max = serverCaps.maxDataXferSize();
        for (long done = 0; done < dst.byteSize(); ) {
            long n = Math.min(max, dst.byteSize() - done);
            MemorySegment request = MemorySegment.ofArray(new byte[RegionAccess.SIZE]);
            RegionAccess.write(request, offset + done, region, n);
            Reply r = call(Command.REGION_READ, raw(request), List.of());
            MemorySegment p = r.payload();
            if (p.byteSize() != RegionAccess.SIZE + n || RegionAccess.count(p) != n) {
                throw new VfioUserException(Errno.EPROTO, "REGION_READ reply: %d bytes for a read of %d".formatted(p.byteSize(), n));
            }
            MemorySegment.copy(p, RegionAccess.DATA_OFFSET, dst, done, n);
            done += n;
        }
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

    /** With {@code posted}, the writes carry NO_REPLY: the call returns once they are sent. */
    public void regionWrite(int region, long offset, MemorySegment src, boolean posted) throws IOException {
        long max = serverCaps.maxDataXferSize();
        for (long done = 0; done < src.byteSize(); ) {
            long n = Math.min(max, src.byteSize() - done);
            MemorySegment request = MemorySegment.ofArray(new byte[(int) (RegionAccess.SIZE + n)]);
            RegionAccess.write(request, offset + done, region, n);
            MemorySegment.copy(src, done, request, RegionAccess.DATA_OFFSET, n);
            if (posted) {
                post(Command.REGION_WRITE, raw(request));
            } else {
                call(Command.REGION_WRITE, raw(request), List.of());
            }
            done += n;
        }
    }

    public int read8(int region, long offset) throws IOException {
        return Byte.toUnsignedInt(regionRead(region, offset, 1)[0]);
    }

    public int read32(int region, long offset) throws IOException {
        return MemorySegment.ofArray(regionRead(region, offset, 4)).get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
    }

    public void write8(int region, long offset, int value) throws IOException {
        regionWrite(region, offset, MemorySegment.ofArray(new byte[] {(byte) value}));
    }

    public void write32(int region, long offset, int value) throws IOException {
        MemorySegment s = MemorySegment.ofArray(new byte[4]);
        s.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, value);
        regionWrite(region, offset, s);
    }

    /** DMA_MAP of client memory the server may map: {@code fd} at {@code fileOffset} backs [iova, iova+size). */
    public void dmaMap(long iova, long size, int flags, Fd fd, long fileOffset) throws IOException {
        call(Command.DMA_MAP, DmaMap.of(flags, fileOffset, iova, size), List.of(fd));
    }

    /**
     * Registers {@code memory} at {@code iova} without an fd: the server reaches it only through
     * DMA_READ/DMA_WRITE messages, which this client serves, checked against bounds and {@code flags}.
     */
    public void registerMemory(long iova, MemorySegment memory, int flags) throws IOException {
        this.memory.add(iova, memory, flags);
        try {
            call(Command.DMA_MAP, DmaMap.of(flags, 0, iova, memory.byteSize()), List.of());
        } catch (IOException e) {
            this.memory.remove(iova, memory.byteSize());
            throw e;
        }
    }

    public void dmaUnmap(long iova, long size) throws IOException {
        call(Command.DMA_UNMAP, DmaUnmap.of(iova, size), List.of());
        memory.remove(iova, size);
    }

    public void dmaUnmapAll() throws IOException {
        call(Command.DMA_UNMAP, DmaUnmap.all(), List.of());
        memory.clear();
    }

    /**
     * Wires {@code eventfds} as the TRIGGER fds of vectors start..start+n-1 of irq {@code index},
     * in chunks the server can take; an empty list de-assigns {@code count} vectors.
     */
    public void setIrqEventfds(int index, int start, List<EventFd> eventfds) throws IOException {
        int chunk = Math.max(1, serverCaps.maxMsgFds());
        for (int i = 0; i < eventfds.size(); i += chunk) {
            List<EventFd> part = eventfds.subList(i, Math.min(eventfds.size(), i + chunk));
            call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(index, Vfio.IRQ_SET_ACTION_TRIGGER, start + i, part.size()),
                    part.stream().map(EventFd::fd).toList());
        }
    }

    /** Any other SET_IRQS: DATA_NONE or DATA_BOOL with MASK, UNMASK or TRIGGER; or de-assigning eventfds. */
    public void setIrqs(IrqSet request) throws IOException {
        call(Command.DEVICE_SET_IRQS, request, List.of());
    }

    /** INTx unmask (what a VMM sends at the guest's EOI). */
    public void unmaskIntx() throws IOException {
        setIrqs(IrqSet.none(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_UNMASK, 0, 1));
    }

    public void reset() throws IOException {
        call(Command.DEVICE_RESET, null, List.of());
    }

    /** DEVICE_FEATURE; returns the reply (for GET the data is appended). */
    public DeviceFeature feature(DeviceFeature request) throws IOException {
        Reply r = call(Command.DEVICE_FEATURE, request, List.of());
        return decode(() -> DeviceFeature.decode(r.payload()), "DEVICE_FEATURE reply");
    }

    // ---- messaging ----

    /** Sends a command and waits for its reply; an error reply becomes a {@link VfioUserException}. */
    public Reply call(Command command, Payload request, List<Fd> fds) throws IOException {
        checkAlive();
        int id = nextId();
        Call call = new Call(command);
        calls.put(id, call);
        try {
            send(id, command, request, fds, false);
            if (!call.done.await(options.callTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new VfioUserException(Errno.ETIMEDOUT, command + ": no reply within " + options.callTimeout());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VfioUserException(Errno.EINTR, command + ": interrupted");
        } finally {
            calls.remove(id, call);
        }
        Reply reply = call.reply;
        if (reply == null) {
            throw new VfioUserException(Errno.ENOTCONN, command + ": " + (dead != null ? dead.getMessage() : "connection closed"), dead);
        }
        if ((reply.flags() & Header.FLAG_ERROR) != 0) {
            reply.fds().forEach(Fd::close);
            throw VfioUserException.serverError(command.toString(), reply.error() != 0 ? reply.error() : Errno.EIO);
        }
        return reply;
    }

    /** Sends a command with NO_REPLY. */
    public void post(Command command, Payload request) throws IOException {
        checkAlive();
        send(nextId(), command, request, List.of(), true);
    }

    private int nextId() {
        int id;
        do {
            id = ids.getAndIncrement() & 0xffff;
        } while (calls.containsKey(id));
        return id;
    }

    private void send(int id, Command command, Payload request, List<Fd> fds, boolean noReply) throws IOException {
        long size = Header.SIZE + (request == null ? 0 : request.encodedSize());
        MemorySegment message = MemorySegment.ofArray(new byte[Math.toIntExact(size)]);
        Header.writeCommand(message, id, command.code(), size, noReply);
        if (request != null) {
            request.encode(message.asSlice(Header.SIZE));
        }
        socket.send(message, fds);
    }

    private void checkAlive() throws VfioUserException {
        if (dead != null) {
            throw new VfioUserException(Errno.ENOTCONN, "connection to the server is gone: " + dead.getMessage(), dead);
        }
    }

    private void readLoop() {
        MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
        List<Fd> fds = new ArrayList<>();
        long maxMessage = Math.max(options.maxDataXferSize(), serverCaps.maxDataXferSize()) + 4096;
        try {
            while (true) {
                if (!socket.receiveFully(header, fds)) {
                    throw new IOException("the server closed the connection");
                }
                Header.validate(header, maxMessage);
                long payloadSize = Header.messageSize(header) - Header.SIZE;
                MemorySegment payload = MemorySegment.ofArray(new byte[(int) payloadSize]);
                if (payloadSize > 0) {
                    socket.receiveFully(payload, fds);
                }
                if (Header.isReply(header)) {
                    Call call = calls.get(Header.msgId(header));
                    if (call == null || call.command.code() != Header.command(header)) {
                        LOG.log(System.Logger.Level.WARNING, "reply %d matches no call; dropped".formatted(Header.msgId(header)));
                        fds.forEach(Fd::close);
                    } else {
                        call.reply = new Reply(Header.flags(header), Header.error(header), payload, List.copyOf(fds));
                        call.done.countDown();
                    }
                    fds.clear();
                } else {
                    fds.forEach(Fd::close); // no server command carries fds
                    fds.clear();
                    serveServerCommand(header, payload);
                }
            }
        } catch (IOException | ProtocolException | RuntimeException e) {
            dead = e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        } finally {
            fds.forEach(Fd::close);
            for (Call call : calls.values()) {
                call.done.countDown(); // reply stays null: the caller sees the connection is gone
            }
        }
    }

    /** The server's DMA_READ/DMA_WRITE into memory registered without an fd. */
    private void serveServerCommand(MemorySegment header, MemorySegment payload) throws IOException {
        int id = Header.msgId(header);
        int code = Header.command(header);
        Payload answer;
        try {
            if (code == Command.DMA_READ.code()) {
                DmaReadRequest r = DmaReadRequest.decode(payload, options.maxDataXferSize());
                byte[] data = new byte[(int) r.count()];
                memory.read(r.address(), MemorySegment.ofArray(data));
                answer = new io.jvfio.protocol.DmaReadReply(r.address(), data);
            } else if (code == Command.DMA_WRITE.code()) {
                DmaWriteRequest w = DmaWriteRequest.decode(payload, options.maxDataXferSize());
                memory.write(w.address(), MemorySegment.ofArray(w.data()));
                answer = new io.jvfio.protocol.DmaWriteReply(w.address(), w.count());
            } else {
                throw new ProtocolException(Errno.EINVAL, "command " + code + " is not one a server may send");
            }
        } catch (ProtocolException e) {
            replyError(id, code, e.errno());
            return;
        }
        if (!Header.isNoReply(header)) {
            MemorySegment message = MemorySegment.ofArray(new byte[(int) (Header.SIZE + answer.encodedSize())]);
            Header.writeReply(message, id, code, message.byteSize());
            answer.encode(message.asSlice(Header.SIZE));
            socket.send(message);
        }
    }

    private void replyError(int id, int code, int errno) throws LinuxException {
        MemorySegment message = MemorySegment.ofArray(new byte[Header.SIZE]);
        Header.writeErrorReply(message, id, code, errno);
        socket.send(message);
    }

    private static Payload raw(MemorySegment bytes) {
        return new Payload() {
            @Override
            public long encodedSize() {
                return bytes.byteSize();
            }

            @Override
            public void encode(MemorySegment dst) {
                dst.copyFrom(bytes);
            }
        };
    }

    private interface Decoder<T> {
        T decode() throws ProtocolException;
    }

    private static <T> T decode(Decoder<T> decoder, String what) throws VfioUserException {
        try {
            return decoder.decode();
        } catch (ProtocolException e) {
            throw new VfioUserException(Errno.EPROTO, what + ": " + e.getMessage(), e);
        }
    }

    /** Whether the connection is still up. */
    public boolean isConnected() {
        return dead == null;
    }

    @Override
    public void close() {
        socket.shutdown();
        try {
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        socket.close();
    }
}
