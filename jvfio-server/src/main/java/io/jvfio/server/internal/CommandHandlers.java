package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.linux.SliceCache;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
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
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import io.jvfio.protocol.SparseMmapCap;
import io.jvfio.protocol.Version;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.Access;
import io.jvfio.server.DeviceMigration;
import io.jvfio.server.DeviceSpec;
import io.jvfio.server.IrqSetting;
import io.jvfio.server.IrqSpec;
import io.jvfio.server.NegotiatedLimits;
import io.jvfio.server.RegionSpec;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.SessionContext;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.Faults;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The command handlers: one decoded request payload in, its reply payload (or an errno, as a
 * {@link ProtocolException} or {@link VfioException}) out, in terms of {@link VfioDevice} calls.
 * They know nothing of the socket, so a test calls them directly. The session frames messages,
 * hands each command here with the fds that came with it, and sends the reply with
 * {@link #replyFds()}.
 */
final class CommandHandlers {
    private static final System.Logger LOG = System.getLogger(CommandHandlers.class.getName());
    /** VERSION is answered with this minor; we implement the 0.x protocol as QEMU speaks it. */
    static final int PROTOCOL_MAJOR = 0, PROTOCOL_MINOR = 0;
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final VfioDevice device;
    private final ServerOptions options;
    private final StatsCounters stats;
    private final DmaSpace dma;
    /** Where DMA to windows without an fd goes once the client is known; null in tests without a client. */
    private final MessageDma messageDma;
    private final OffSessionThread offThread;
    private final Supplier<PeerCredentials> peer;
    /** The device's migration, or null when it cannot be migrated. */
    private final DeviceMigration migration;
    /** The device's injected faults, asked at every region access. */
    private final RegionAccessFaults faults;
    /** Fds that go with the current reply (a region's mmap fd). */
    private final List<Fd> replyFds = new ArrayList<>(1);
    // Views the hot path reuses (slices handed to the device would otherwise be allocated).
    private final SliceCache readData = new SliceCache(RegionAccess.DATA_OFFSET);
    private final SliceCache writeData = new SliceCache(RegionAccess.DATA_OFFSET);
    /** A REGION_WRITE_MULTI entry's data, copied out of the request for the device, and which entries a fault dropped. */
    private final SliceCache multiWriteData = new SliceCache(MemorySegment.ofArray(new byte[RegionWriteMulti.MAX_DATA]), 0);
    private final boolean[] multiWriteDropped = new boolean[RegionWriteMulti.MAX_ENTRIES];
    /**
     * The last DEVICE_SET_IRQS that carried neither fds nor data (QEMU's INTx UNMASK after each
     * interrupt) and its setting, null if none: the same request again reuses the setting, decoded once.
     */
    private final MemorySegment lastIrqRequest = MemorySegment.ofArray(new byte[IrqSet.SIZE]);
    private IrqSetting lastIrqSetting;
    /** The fds of the command being handled: a handler that takes one removes it; the rest the session closes. */
    private List<Fd> fds = List.of();
    private boolean negotiated;
    /** The device's region count, fixed at VERSION (checked before every region access, without allocating). */
    private int numRegions;
    private VersionCapabilities clientCaps = VersionCapabilities.DEFAULTS;

    /** A device call that may wait for the device's own DMA. */
    interface DeviceCall<T> {
        T run() throws VfioException;
    }

    /**
     * Runs a device call while the session goes on reading replies to the device's DMA (a migration
     * transition, a pre-copy save). A test without a session runs it in place.
     */
    interface OffSessionThread {
        <T> T run(DeviceCall<T> call) throws VfioException, IOException, ProtocolException;
    }

    CommandHandlers(VfioDevice device, ServerOptions options, StatsCounters stats, DmaSpace dma, MessageDma messageDma,
                    OffSessionThread offThread, Supplier<PeerCredentials> peer) {
        this(device, options, stats, dma, messageDma, offThread, peer, new Faults(), new StallClock());
    }

    CommandHandlers(VfioDevice device, ServerOptions options, StatsCounters stats, DmaSpace dma, MessageDma messageDma,
                    OffSessionThread offThread, Supplier<PeerCredentials> peer, Faults faults, StallClock stall) {
        this.faults = new RegionAccessFaults(faults, stall);
        this.device = device;
        this.options = options;
        this.stats = stats;
        this.dma = dma;
        this.messageDma = messageDma;
        this.offThread = offThread;
        this.peer = peer;
        this.migration = device.migration().orElse(null);
    }

    /** Whether VERSION was answered (the device is then open). */
    boolean negotiated() {
        return negotiated;
    }

    /** The fds to send with the reply just produced; the session clears it after sending. */
    List<Fd> replyFds() {
        return replyFds;
    }

    /**
     * Handles one command: checks it may run now, writes the reply payload into {@code reply} and
     * returns its size. {@code fds} came with the request; a handler removes those it keeps.
     */
    long handle(Command command, MemorySegment p, MemorySegment reply, List<Fd> fds)
            throws ProtocolException, VfioException, IOException {
        stats.countCommand(command);
        Command.checkFdCount(command, fds.size());
        if (!negotiated && command != Command.VERSION) {
            throw new ProtocolException(Errno.EINVAL, command + " before VERSION");
        }
        if (migration != null && !migration.executes(command)) {
            throw new ProtocolException(Errno.EINVAL, command + " while the device is in migration state " + migration.state());
        }
        this.fds = fds;
        try {
            return dispatch(command, p, reply);
        } finally {
            this.fds = List.of();
        }
    }

    private long dispatch(Command command, MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
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
    private long regionRead(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        RegionAccess.validate(p, options.maxDataXferSize(), false);
        checkRegion(RegionAccess.region(p));
        long count = RegionAccess.count(p);
        RegionAccess.write(reply, RegionAccess.offset(p), RegionAccess.region(p), count);
        MemorySegment data = readData.of(reply, count);
        if (faults.inject(RegionAccess.region(p), RegionAccess.offset(p), count, false, data)) {
            return RegionAccess.SIZE + count;
        }
        device.regionRead(RegionAccess.region(p), RegionAccess.offset(p), data);
        return RegionAccess.SIZE + count;
    }

    private long regionWrite(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        RegionAccess.validate(p, options.maxDataXferSize(), true);
        checkRegion(RegionAccess.region(p));
        if (!faults.inject(RegionAccess.region(p), RegionAccess.offset(p), RegionAccess.count(p), true, null)) {
            device.regionWrite(RegionAccess.region(p), RegionAccess.offset(p),
                    writeData.of(p, RegionAccess.count(p)));
        }
        RegionAccess.write(reply, RegionAccess.offset(p), RegionAccess.region(p), RegionAccess.count(p));
        return RegionAccess.SIZE;
    }

    /**
     * Every entry is checked, and asked about as a region write, before any is written: a bad
     * entry or one whose fault fails it (an errno, a hang-up) fails the whole message with nothing
     * written; an entry whose write a fault drops (all ones) is skipped. The entries are read in
     * place: nothing is allocated.
     */
    private long regionWriteMulti(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException, IOException {
        int entries = RegionWriteMulti.checkedEntryCount(p, RegionWriteMulti.MAX_ENTRIES);
        for (int i = 0; i < entries; i++) {
            checkRegion(p.get(LE_INT, RegionWriteMulti.entryOffset(i) + RegionAccess.OFF_REGION));
        }
        for (int i = 0; i < entries; i++) {
            long at = RegionWriteMulti.entryOffset(i);
            multiWriteDropped[i] = faults.inject(p.get(LE_INT, at + RegionAccess.OFF_REGION),
                    p.get(LE_LONG, at + RegionAccess.OFF_OFFSET), entryCount(p, at), true, null);
        }
        for (int i = 0; i < entries; i++) {
            if (!multiWriteDropped[i]) {
                long at = RegionWriteMulti.entryOffset(i);
                MemorySegment data = multiWriteData.of(entryCount(p, at));
                MemorySegment.copy(p, at + RegionAccess.DATA_OFFSET, data, 0, data.byteSize());
                device.regionWrite(p.get(LE_INT, at + RegionAccess.OFF_REGION), p.get(LE_LONG, at + RegionAccess.OFF_OFFSET), data);
            }
        }
        reply.set(LE_LONG, 0, entries); // every entry counts as done, a dropped one too
        return RegionWriteMultiReply.SIZE;
    }

    /** The count of the REGION_WRITE_MULTI entry at {@code at}: at most 8, checked. */
    private static long entryCount(MemorySegment p, long at) {
        return Integer.toUnsignedLong(p.get(LE_INT, at + RegionAccess.OFF_COUNT));
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
        dma.map(map.address(), map.size(), map.readable() && map.writable() ? Access.READ_WRITE
                : map.readable() ? Access.READ_ONLY : map.writable() ? Access.WRITE_ONLY : Access.NONE, fd, map.offset());
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
            long bytes = dma.unmap(unmap.address(), unmap.size());
            LOG.log(Level.DEBUG, () -> "DMA_UNMAP [0x%x, +0x%x): 0x%x bytes of windows removed"
                    .formatted(unmap.address(), unmap.size(), bytes));
        }
        // The reply echoes the request (vfio-user), not the kernel's count of bytes unmapped.
        return encode(new DmaUnmap(DmaUnmap.SIZE, unmap.flags(), unmap.address(), unmap.size(), null), reply);
    }

    private long deviceInfo(MemorySegment p, MemorySegment reply) throws ProtocolException {
        DeviceInfo request = DeviceInfo.decode(p);
        DeviceSpec info = device.info();
        return encode(DeviceInfo.reply(ArgSz.unsigned(request.argsz()), info.flags(),
                info.numRegions(), info.numIrqs(), info.capabilities()), reply);
    }

    private long regionInfo(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        RegionInfo request = RegionInfo.decode(p);
        int index = request.index();
        if (index < 0 || index >= device.info().numRegions()) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_GET_REGION_INFO: no region " + Integer.toUnsignedString(index));
        }
        RegionSpec info = device.regionInfo(index);
        int flags = info.vfioFlags();
        List<InfoCapability> caps = new ArrayList<>(info.capabilities());
        long fileOffset = 0;
        if (info.mmap().isPresent()) {
            RegionSpec.Mmap mmap = info.mmap().get();
            fileOffset = mmap.fileOffset();
            if (!mmap.areas().isEmpty()) {
                caps.add(new SparseMmapCap(mmap.areas().stream()
                        .map(a -> new SparseMmapCap.Area(a.offset(), a.size())).toList()));
            }
        }
        RegionInfo answer = RegionInfo.reply(ArgSz.unsigned(request.argsz()),
                index, flags, info.size(), fileOffset, caps);
        // The fd goes only with a complete answer; a client re-asking with a bigger argsz gets it then.
        if (info.mmap().isPresent() && !answer.truncated()) {
            replyFds.add(info.mmap().get().fd());
        }
        return encode(answer, reply);
    }

    private long irqInfo(MemorySegment p, MemorySegment reply) throws ProtocolException, VfioException {
        IrqInfo request = IrqInfo.decode(p);
        if (request.index() < 0 || request.index() >= device.info().numIrqs()) {
            throw new ProtocolException(Errno.EINVAL, "DEVICE_GET_IRQ_INFO: no irq index " + Integer.toUnsignedString(request.index()));
        }
        IrqSpec info = device.irqInfo(request.index());
        return encode(IrqInfo.reply(request.index(), info.vfioFlags(), info.count()), reply);
    }

    private long setIrqs(MemorySegment p) throws ProtocolException, VfioException {
        if (lastIrqSetting != null && fds.isEmpty() && p.byteSize() == IrqSet.SIZE && p.mismatch(lastIrqRequest) == -1) {
            device.setIrqs(lastIrqSetting);
            return 0;
        }
        IrqSet request = IrqSet.decode(p);
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
        IrqSetting setting = new IrqSetting(request.index(), request.start(), request.count(), action, data, request.boolData(), eventfds);
        lastIrqSetting = null;
        if (data == IrqSetting.Data.NONE && eventfds.isEmpty() && p.byteSize() == IrqSet.SIZE) {
            MemorySegment.copy(p, 0, lastIrqRequest, 0, IrqSet.SIZE);
            lastIrqSetting = setting;
        }
        device.setIrqs(setting);
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
            return new FeatureMigration(DeviceMigration.FLAGS).toBytes();
        }
        if (probeOnly(request, true, true)) {
            return request.data();
        }
        if (request.isGet()) {
            return FeatureMigDeviceState.of(migration.state()).toBytes();
        }
        FeatureMigDeviceState target = FeatureMigDeviceState.decode(request.dataSegment());
        MigrationState to = target.state();
        offThread.run(() -> {
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
                    bitmap.set(LE_LONG, 8L * i, words[i]);
                }
                return new FeatureDmaLoggingReport(ask.iova(), ask.length(), ask.pageSize(),
                        bitmap.toArray(ValueLayout.JAVA_BYTE)).toBytes();
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
        return encode(MigData.of(offThread.run(() -> m.read(size))), reply);
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
        long[] info = offThread.run(m::precopyInfo);
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
        VersionCapabilities offered = options.versionCapabilities();
        int minor = Math.min(proposed.minor(), PROTOCOL_MINOR);
        // QEMU receives the reply into a buffer as large as its own request: never send more. Optional
        // keys go first, our limits last; a client that sent no JSON (SPDK's test client) gets none.
        Version answer = null;
        for (VersionCapabilities candidate : proposed.capabilities() == null ? List.<VersionCapabilities>of()
                : List.of(offered, offered.without(VersionCapabilities.WRITE_MULTIPLE), VersionCapabilities.DEFAULTS)) {
            Version v = new Version(PROTOCOL_MAJOR, minor, candidate);
            if (v.encodedSize() <= p.byteSize()) {
                answer = v;
                break;
            }
        }
        if (answer == null) {
            answer = new Version(PROTOCOL_MAJOR, minor, null);
        }
        if (!answer.capabilitiesOrDefaults().has(VersionCapabilities.MAX_DATA_XFER_SIZE)
                && options.maxDataXferSize() < VersionCapabilities.DEFAULT_MAX_DATA_XFER_SIZE) {
            LOG.log(Level.WARNING, "VERSION request too short to tell the client our max_data_xfer_size of "
                    + options.maxDataXferSize());
        }
        answer.encode(reply);
        openDevice();
        return answer.encodedSize();
    }

    /** After VERSION: the session is negotiated, its DMA space reachable, and the device open for the client. */
    private void openDevice() throws VfioException {
        numRegions = device.info().numRegions();
        negotiated = true;
        if (messageDma != null) {
            messageDma.clientMaxDataXferSize(clientCaps.maxDataXferSize());
            dma.attach(messageDma);
        }
        device.open(new SessionContext(peer.get(), limits(), dma, options.hypervisorLink()));
    }

    /** The capabilities the client proposed at VERSION: what a successor process must know of it. */
    VersionCapabilities clientCapabilities() {
        return clientCaps;
    }

    /** A live upgrade: this session takes over a negotiated client as if it had just answered its VERSION. */
    void resumeNegotiated(VersionCapabilities clientCapabilities) throws VfioException {
        if (negotiated) {
            throw VfioException.invalid("the session is negotiated already");
        }
        clientCaps = clientCapabilities;
        openDevice();
    }

    private NegotiatedLimits limits() {
        return new NegotiatedLimits(clientCaps.maxMsgFds(), clientCaps.maxDataXferSize(), options.maxDataXferSize());
    }
}
