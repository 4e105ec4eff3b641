package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.jvfio.client.DeviceException;
import io.jvfio.client.DeviceHandle;
import io.jvfio.client.DmaBuffer;
import io.jvfio.client.FeatureCalls;
import io.jvfio.client.Interrupts;
import io.jvfio.client.MappedRegion;
import io.jvfio.client.RegionDescription;
import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;

/**
 * A device bound to vfio-pci, driven through the kernel's VFIO: the {@link DeviceHandle} over a
 * device fd, from a legacy group or an iommufd cdev ({@link KernelDevices} opens them). The info
 * calls are the device fd's ioctls, whose structs are vfio-user's payloads (decoded by the same
 * records, capability chains included); region access is pread/pwrite at the region's offset in the
 * fd, one access of the given width for the 1-8 byte calls; mmap-able regions map the fd; DMA
 * memory is mapped through the {@link DmaSpace} (type1 container or iommufd IOAS), or in no-IOMMU
 * mode locked and addressed physically; interrupts are eventfds given by SET_IRQS.
 *
 * <p><b>No-IOMMU.</b> The device sees physical addresses, so the IOVA a caller asks for cannot be
 * honoured: {@link #allocateDma} returns memory whose {@link DmaBuffer#iova()} is its physical
 * address (use that), in a huge page when the buffer is larger than a page and huge pages are
 * reserved, and fails with ENOMEM when the pages are not physically contiguous
 * ({@link PhysicalMemory}). {@link #registerMemory} accepts only memory whose physical address is the
 * IOVA given. Reading physical addresses needs CAP_SYS_ADMIN.
 */
public final class KernelVfioDevice implements DeviceHandle {
    private static final System.Logger LOG = System.getLogger(KernelVfioDevice.class.getName());
    private static final long TRANSFER_CHUNK = 1 << 20;
    private static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    /** Per thread, native words for the 1-8 byte accesses, so they allocate nothing. */
    private static final ThreadLocal<MemorySegment[]> WORDS = ThreadLocal.withInitial(() -> {
        MemorySegment word = Arena.ofAuto().allocate(8, 8);
        return new MemorySegment[] {null, word.asSlice(0, 1), word.asSlice(0, 2), null, word.asSlice(0, 4), null, null,
                null, word.asSlice(0, 8)};
    });

    private final String name;
    private final Fd device;
    private final DmaSpace dma;
    /** What else the device keeps open (its group), closed after the device fd. */
    private final List<AutoCloseable> owned;
    private final DmaMappings mappings = new DmaMappings();
    private final Map<Integer, RegionInfo> regions = new ConcurrentHashMap<>();
    /** What was handed out (mappings, DMA buffers, interrupts), released with the device. */
    private final Set<AutoCloseable> resources = ConcurrentHashMap.newKeySet();
    private final FeatureCalls features = new FeatureCalls(this::feature, KernelVfioException::new);
    private final MigrationData migrationData;
    /** Set by the first close(), which then releases everything while calls still work. */
    private boolean closing;
    private volatile boolean closed;

    KernelVfioDevice(String name, Fd device, DmaSpace dma, List<AutoCloseable> owned) {
        this.name = name;
        this.device = device;
        this.dma = dma;
        this.owned = List.copyOf(owned);
        this.migrationData = new MigrationData(name);
    }

    /** The device's name, e.g. "0000:00:04.0". */
    public String name() {
        return name;
    }

    /** The IOVA windows DMA may use. */
    public List<IovaRange> iovaRanges() {
        return dma.ranges();
    }

    /** Which userspace interface carries the device: the legacy container and group, or iommufd. */
    public KernelOptions.Backend backend() {
        return dma.backend();
    }

    /** Whether the device runs without an IOMMU (IOVAs are physical addresses). */
    public boolean noIommu() {
        return dma.physical();
    }

    // ---------------------------------------------------------------- device, regions, irqs

    @Override
    public DeviceInfo deviceInfo() throws IOException {
        return deviceInfo(DeviceInfo.SIZE);
    }

    /** VFIO_DEVICE_GET_INFO offering {@code argsz} bytes; repeated once with what the kernel asks for. */
    @Override
    public DeviceInfo deviceInfo(int argsz) throws IOException {
        if (argsz < DeviceInfo.SIZE || argsz > 1 << 20) {
            throw new IllegalArgumentException("argsz must be in [16, 1 MiB]: " + argsz);
        }
        MemorySegment reply = callGrowing(KernelUapi.VFIO_DEVICE_GET_INFO, "VFIO_DEVICE_GET_INFO", argsz,
                size -> DeviceInfo.request(size));
        return decode(() -> DeviceInfo.decode(reply), "VFIO_DEVICE_GET_INFO");
    }

    /** A region's info; for an mmap-able region with a duplicate of the device fd to map (owned by the description). */
    @Override
    public RegionDescription regionInfo(int index) throws IOException {
        RegionInfo info = fetchRegionInfo(index);
        boolean mmap = (info.flags() & Vfio.REGION_INFO_FLAG_MMAP) != 0;
        return new RegionDescription(info, mmap ? duplicateDeviceFd() : null);
    }

    /** Region {@code info} as if the kernel had described it (tests: region access over a memfd standing for the device). */
    void knowRegion(RegionInfo info) {
        regions.put(info.index(), info);
    }

    private RegionInfo fetchRegionInfo(int index) throws IOException {
        MemorySegment reply = callGrowing(KernelUapi.VFIO_DEVICE_GET_REGION_INFO, "VFIO_DEVICE_GET_REGION_INFO",
                RegionInfo.SIZE, size -> RegionInfo.request(size, index));
        RegionInfo info = decode(() -> RegionInfo.decode(reply), "VFIO_DEVICE_GET_REGION_INFO " + index);
        regions.put(index, info);
        return info;
    }

    private Fd duplicateDeviceFd() throws KernelVfioException {
        try {
            return device.duplicate();
        } catch (LinuxException e) {
            throw Ioctls.failed(name, e);
        }
    }

    @Override
    public IrqInfo irqInfo(int index) throws IOException {
        MemorySegment info = IrqInfo.request(index).toSegment();
        call(KernelUapi.VFIO_DEVICE_GET_IRQ_INFO, info, "VFIO_DEVICE_GET_IRQ_INFO");
        return decode(() -> IrqInfo.decode(info), "VFIO_DEVICE_GET_IRQ_INFO " + index);
    }

    // ---------------------------------------------------------------- region access

    @Override
    public long transferChunk() {
        return TRANSFER_CHUNK;
    }

    @Override
    public void regionRead(int region, long offset, MemorySegment dst) throws IOException {
        long at = fileOffset(region, offset, dst.byteSize());
        long n;
        try {
            n = Linux.pread(device, dst, at);
        } catch (LinuxException e) {
            throw Ioctls.failed(name, e);
        }
        if (n != dst.byteSize()) {
            throw new KernelVfioException(Errno.EIO, "%s: region %d: read %d of %d bytes at 0x%x".formatted(name, region, n,
                    dst.byteSize(), offset));
        }
    }

    @Override
    public void regionWrite(int region, long offset, MemorySegment src) throws IOException {
        long at = fileOffset(region, offset, src.byteSize());
        try {
            Linux.pwrite(device, src, at);
        } catch (LinuxException e) {
            throw Ioctls.failed(name, e);
        }
    }

    /** Where [offset, +length) of {@code region} is in the device fd; EINVAL outside the region. */
    private long fileOffset(int region, long offset, long length) throws IOException {
        checkOpen();
        RegionInfo info = regions.get(region);
        if (info == null) {
            info = fetchRegionInfo(region);
        }
        if (offset < 0 || length < 0 || offset + length < offset || offset + length > info.size()) {
            throw new KernelVfioException(Errno.EINVAL, "%s: [0x%x, +0x%x) is outside region %d of 0x%x bytes"
                    .formatted(name, offset, length, region, info.size()));
        }
        return info.offset() + offset;
    }

    /** One access of {@code width} bytes between the device and this thread's word for that width (no lambda: hot). */
    private MemorySegment word(int region, long offset, int width, boolean write) throws IOException {
        MemorySegment word = WORDS.get()[width];
        long at = fileOffset(region, offset, width);
        long n;
        try {
            n = write ? Linux.pwrite(device, word, at) : Linux.pread(device, word, at);
        } catch (LinuxException e) {
            throw Ioctls.failed(name, e);
        }
        if (n != width) {
            throw new KernelVfioException(Errno.EIO, "%s: region %d: %d-byte access at 0x%x moved %d".formatted(name, region,
                    width, offset, n));
        }
        return word;
    }

    @Override
    public int read8(int region, long offset) throws IOException {
        return Byte.toUnsignedInt(word(region, offset, 1, false).get(JAVA_BYTE, 0));
    }

    @Override
    public int read16(int region, long offset) throws IOException {
        return Short.toUnsignedInt(word(region, offset, 2, false).get(JAVA_SHORT_UNALIGNED, 0));
    }

    @Override
    public int read32(int region, long offset) throws IOException {
        return word(region, offset, 4, false).get(JAVA_INT_UNALIGNED, 0);
    }

    @Override
    public long read64(int region, long offset) throws IOException {
        return word(region, offset, 8, false).get(JAVA_LONG_UNALIGNED, 0);
    }

    @Override
    public void write8(int region, long offset, int value) throws IOException {
        WORDS.get()[1].set(JAVA_BYTE, 0, (byte) value);
        word(region, offset, 1, true);
    }

    @Override
    public void write16(int region, long offset, int value) throws IOException {
        WORDS.get()[2].set(JAVA_SHORT_UNALIGNED, 0, (short) value);
        word(region, offset, 2, true);
    }

    @Override
    public void write32(int region, long offset, int value) throws IOException {
        WORDS.get()[4].set(JAVA_INT_UNALIGNED, 0, value);
        word(region, offset, 4, true);
    }

    @Override
    public void write64(int region, long offset, long value) throws IOException {
        WORDS.get()[8].set(JAVA_LONG_UNALIGNED, 0, value);
        word(region, offset, 8, true);
    }

    /** Maps an mmap-able region (or its sparse areas) from the device fd; ENOTSUP when it is not mmap-able. */
    @Override
    public MappedRegion mapRegion(int index) throws IOException {
        checkOpen();
        try (RegionDescription d = regionInfo(index)) {
            if (!d.mmappable()) {
                throw new KernelVfioException(Errno.ENOTSUP, name + ": region " + index + " is not mmap-able");
            }
            String outside = MappedRegion.areaOutside(index, d.info());
            if (outside != null) {
                throw new KernelVfioException(Errno.EPROTO, name + ": " + outside);
            }
            MappedRegion region = MappedRegion.map(index, d, resources::remove);
            resources.add(region);
            return region;
        }
    }

    // ---------------------------------------------------------------- DMA

    /**
     * {@code size} bytes (whole pages) of memfd memory mapped here and for the device at {@code iova}
     * (in no-IOMMU mode: at its physical address, possibly a whole huge page; see the class comment).
     */
    @Override
    public DmaBuffer allocateDma(long iova, long size) throws IOException {
        checkOpen();
        if (size <= 0 || size % Linux.PAGE_SIZE != 0) {
            throw new KernelVfioException(Errno.EINVAL, "DMA buffer of 0x%x bytes: whole pages of 0x%x, please"
                    .formatted(size, Linux.PAGE_SIZE));
        }
        String label = "jvfio-dma-" + Long.toHexString(iova);
        Mapping mapping;
        long deviceIova = iova;
        if (dma.physical()) {
            mapping = PhysicalMemory.allocate(label, size);
            deviceIova = PhysicalMemory.address(mapping.segment());
        } else {
            try (Fd memfd = Memfd.create(label, size)) {
                mapping = Mapping.map(memfd, 0, size, true);
            }
        }
        try {
            map(mapping.segment().address(), deviceIova, mapping.length(), RW);
        } catch (IOException | RuntimeException e) {
            mapping.close();
            throw e;
        }
        DmaBuffer buffer = new DmaBuffer(deviceIova, mapping, (b, m) -> {
            resources.remove(b);
            try {
                if (!closed) {
                    dmaUnmap(b.iova(), b.size());
                }
            } finally {
                m.close();
            }
        });
        resources.add(buffer);
        return buffer;
    }

    /** {@code memory} (native, whole pages) for the device at {@code iova}; in no-IOMMU mode iova must be its physical address. */
    @Override
    public void registerMemory(long iova, MemorySegment memory, int flags) throws IOException {
        checkOpen();
        if (!memory.isNative()) {
            throw new IllegalArgumentException("DMA memory must be native (off-heap) memory");
        }
        if (memory.address() % Linux.PAGE_SIZE != 0) {
            throw new KernelVfioException(Errno.EINVAL, "DMA memory at 0x%x is not page-aligned".formatted(memory.address()));
        }
        if (dma.physical()) {
            long physical = PhysicalMemory.address(memory);
            if (physical != iova) {
                throw new KernelVfioException(Errno.EINVAL, ("no-IOMMU: the device sees this memory at its physical address "
                        + "0x%x, not at 0x%x").formatted(physical, iova));
            }
        }
        map(memory.address(), iova, memory.byteSize(), flags);
    }

    private void map(long vaddr, long iova, long size, int flags) throws KernelVfioException {
        mappings.add(iova, size, dma.ranges());
        try {
            dma.map(vaddr, iova, size, flags);
        } catch (KernelVfioException | RuntimeException e) {
            mappings.remove(iova, size);
            throw e;
        }
    }

    @Override
    public void dmaUnmap(long iova, long size) throws IOException {
        mappings.remove(iova, size);
        dma.unmap(iova, size);
    }

    @Override
    public void dmaUnmapAll() throws IOException {
        KernelVfioException failed = null;
        for (long[] m : mappings.clear()) {
            try {
                dma.unmap(m[0], m[1]);
            } catch (KernelVfioException e) {
                failed = failed == null ? e : failed;
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    // ---------------------------------------------------------------- interrupts

    @Override
    public Interrupts interrupts(int index, int count) throws IOException {
        Interrupts irqs = Interrupts.open(this, index, count, this::isConnected, resources::remove, KernelVfioException::new);
        resources.add(irqs);
        return irqs;
    }

    /** SET_IRQS DATA_EVENTFD | TRIGGER with the fds as the data (s32 each; -1 would de-assign). */
    @Override
    public void setIrqEventfds(int index, int start, List<EventFd> eventfds) throws IOException {
        int n = eventfds.size();
        MemorySegment set = MemorySegment.ofArray(new byte[IrqSet.SIZE + 4 * n]);
        new IrqSet(IrqSet.SIZE + 4 * n, Vfio.IRQ_SET_DATA_EVENTFD | Vfio.IRQ_SET_ACTION_TRIGGER, index, start, n, null)
                .encode(set);
        for (int i = 0; i < n; i++) {
            set.set(JAVA_INT_UNALIGNED, IrqSet.SIZE + 4L * i, eventfds.get(i).fd().value());
        }
        call(KernelUapi.VFIO_DEVICE_SET_IRQS, set, "VFIO_DEVICE_SET_IRQS");
    }

    @Override
    public void setIrqs(IrqSet request) throws IOException {
        call(KernelUapi.VFIO_DEVICE_SET_IRQS, request.toSegment(), "VFIO_DEVICE_SET_IRQS");
    }

    // ---------------------------------------------------------------- reset, features, migration

    @Override
    public void reset() throws IOException {
        checkOpen();
        Ioctls.call(device, KernelUapi.VFIO_DEVICE_RESET, 0, "VFIO_DEVICE_RESET", name);
    }

    /** VFIO_DEVICE_FEATURE in a buffer of argsz bytes; the reply's data is what follows the header there. */
    @Override
    public DeviceFeature feature(DeviceFeature request) throws IOException {
        long argsz = ArgSz.unsigned(request.argsz());
        MemorySegment buffer = Ioctls.buffer(request, argsz);
        call(KernelUapi.VFIO_DEVICE_FEATURE, buffer, "VFIO_DEVICE_FEATURE");
        return new DeviceFeature(request.argsz(), request.flags(),
                buffer.asSlice(DeviceFeature.SIZE, argsz - DeviceFeature.SIZE).toArray(JAVA_BYTE));
    }

    @Override
    public boolean probeFeature(int feature, int ops) throws IOException {
        return features.probe(feature, ops);
    }

    @Override
    public FeatureMigration migrationFeature() throws IOException {
        return features.migration();
    }

    @Override
    public MigrationState migrationState() throws IOException {
        return features.migrationState();
    }

    /** MIG_DEVICE_STATE SET; keeps the data fd the kernel returns for states that move data (STOP_COPY, RESUMING, PRE_COPY). */
    @Override
    public void setMigrationState(MigrationState state) throws IOException {
        DeviceFeature reply = feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_SET,
                FeatureMigDeviceState.of(state)));
        migrationData.replace(decode(() -> FeatureMigDeviceState.decode(reply.dataSegment()), "MIG_DEVICE_STATE reply").dataFd());
    }

    @Override
    public long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException {
        return features.startDmaLogging(pageSize, ranges);
    }

    @Override
    public void stopDmaLogging() throws IOException {
        features.stopDmaLogging();
    }

    @Override
    public FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize) throws IOException {
        return features.dmaLoggingReport(iova, length, pageSize, TRANSFER_CHUNK);
    }

    /** read(2) of the migration data fd; ENOMSG (pre-copy: nothing more for now) reads as no data. */
    @Override
    public byte[] migDataRead(int size) throws IOException {
        return migrationData.read(size);
    }

    @Override
    public void migDataWrite(byte[] data) throws IOException {
        migrationData.write(data);
    }

    @Override
    public PrecopyInfo precopyInfo() throws IOException {
        return migrationData.precopyInfo();
    }

    // ---------------------------------------------------------------- the calls

    private void call(long request, MemorySegment argument, String ioctl) throws KernelVfioException {
        checkOpen();
        Ioctls.call(device, request, argument, ioctl, name);
    }

    /** An info ioctl offering {@code argsz}; when the kernel's answer says it needs more, asked once more with that. */
    private MemorySegment callGrowing(long request, String ioctl, int argsz, IntFunction<Payload> requestOf)
            throws KernelVfioException {
        MemorySegment reply = Ioctls.buffer(requestOf.apply(argsz), argsz);
        call(request, reply, ioctl);
        long needed = Integer.toUnsignedLong(reply.get(JAVA_INT_UNALIGNED, 0));
        if (needed > argsz && needed <= 1 << 20) {
            reply = Ioctls.buffer(requestOf.apply((int) needed), needed);
            call(request, reply, ioctl);
        }
        return reply;
    }

    private <T> T decode(DeviceException.Decoder<T> decoder, String what) throws DeviceException {
        return DeviceException.decoded(decoder, name + ": " + what, KernelVfioException::new);
    }

    private void checkOpen() throws KernelVfioException {
        if (closed) {
            throw new KernelVfioException(Errno.ENOTCONN, name + ": the device was closed");
        }
    }

    // ---------------------------------------------------------------- the end

    @Override
    public boolean isConnected() {
        return !closed;
    }

    /**
     * Releases what was handed out (interrupts disabled, DMA unmapped, regions unmapped), then closes
     * the device fd, its group and its container or iommufd, in that order.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
        }
        List<AutoCloseable> handedOut = new ArrayList<>(resources);
        for (AutoCloseable r : handedOut) {
            closeQuietly(r);
        }
        try {
            dmaUnmapAll();
        } catch (IOException e) {
            LOG.log(Level.WARNING, name + ": unmapping DMA: " + e.getMessage());
        }
        closed = true;
        migrationData.close();
        device.close();
        owned.forEach(KernelVfioDevice::closeQuietly);
        dma.close();
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "closing " + c + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "KernelVfioDevice[" + name + ", " + dma + "]";
    }
}
