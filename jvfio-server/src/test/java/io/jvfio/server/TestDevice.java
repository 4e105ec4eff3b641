package io.jvfio.server;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.protocol.RegionTypeCap;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A small PCI device for server tests.
 * <ul>
 * <li>BAR 0 (4 KiB): plain memory; every write is logged in arrival order.</li>
 * <li>BAR 2 (4 KiB): MSI-X table (8 vectors) at 0, PBA at 0x800. MSI with 4 vectors. INTA.</li>
 * <li>BAR 4 (4 KiB): DMA control. A 16-byte write at 0 {@code iova u64, length u32, op u32} starts a
 * device thread that reads ({@link #OP_READ}) or writes ({@link #OP_WRITE}, bytes {@code i & 0xff}) client
 * memory; the result lands in {@link #dmaResults}. {@link #OP_READ_INLINE} reads on the calling
 * (session) thread instead.</li>
 * <li>Region 9: a vendor region (TYPE capability) backed by a memfd the client may mmap, with a
 * SPARSE_MMAP area covering its first half.</li>
 * </ul>
 */
class TestDevice extends PciDevice {
    static final int REGION_SIZE = 0x1000;
    static final int VENDOR_REGION = 9;
    static final int VENDOR_TYPE = Vfio.REGION_TYPE_PCI_VENDOR_TYPE | 0x1234, VENDOR_SUBTYPE = 7;
    /** {@code OP_READ_NATIVE}: a read into native memory, which the session may receive the replies' data straight into. */
    static final int OP_READ = 0, OP_WRITE = 1, OP_READ_INLINE = 2, OP_READ_NATIVE = 3;
    static final int MSI_VECTORS = 4, MSIX_VECTORS = 8;

    /** What a device-thread DMA produced: the bytes read (or written), or the failure. */
    record DmaResult(byte[] data, VfioException error) {}

    final byte[] memory = new byte[REGION_SIZE];
    final List<String> writeLog = new CopyOnWriteArrayList<>();
    final BlockingQueue<DmaResult> dmaResults = new LinkedBlockingQueue<>();
    final List<SessionContext> opens = new CopyOnWriteArrayList<>();
    /** While closed, BAR 0 reads and SET_IRQS block in the device (a stuck callback) until {@link #release()}. */
    private volatile CountDownLatch readGate = new CountDownLatch(0);
    /** A permit for each BAR 0 read or SET_IRQS that reached the gate. */
    final Semaphore readsAtGate = new Semaphore(0);
    private final Fd regionFd;
    private final Mapping regionMapping;

    TestDevice() throws LinuxException {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(0x1234).deviceId(0x5678)
                .classCode(0xff0000)
                .interruptPin(1)
                .bar(Bar.memory32(0, REGION_SIZE))
                .bar(Bar.memory32(2, REGION_SIZE))
                .bar(Bar.memory32(4, REGION_SIZE))
                .capability(Capabilities.msi(MSI_VECTORS, true, true))
                .capability(Capabilities.msix(MSIX_VECTORS, 2, 0, 2, 0x800))
                .build());
        bar(0, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                passGate();
                synchronized (memory) {
                    MemorySegment.copy(MemorySegment.ofArray(memory), offset, dst, 0, dst.byteSize());
                }
            }

            @Override
            public void write(long offset, MemorySegment src) {
                synchronized (memory) {
                    MemorySegment.copy(src, 0, MemorySegment.ofArray(memory), offset, src.byteSize());
                    writeLog.add("0x%x:%d".formatted(offset, src.byteSize()));
                }
            }
        });
        bar(2, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                dst.fill((byte) 0);
            }

            @Override
            public void write(long offset, MemorySegment src) {}
        });
        bar(4, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                dst.fill((byte) 0);
            }

            @Override
            public void write(long offset, MemorySegment src) throws VfioException {
                if (offset != 0 || src.byteSize() != 16) {
                    throw VfioException.invalid("DMA control takes one 16-byte write at 0");
                }
                long iova = src.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                int length = src.get(ValueLayout.JAVA_INT_UNALIGNED, 8);
                int op = src.get(ValueLayout.JAVA_INT_UNALIGNED, 12);
                DmaView space = dma();
                if (op == OP_READ_INLINE) {
                    space.read(iova, MemorySegment.ofArray(new byte[length]));
                    return;
                }
                Thread.ofPlatform().daemon().name("test-device-dma").start(() -> runDma(space, iova, length, op));
            }
        });
        regionFd = Memfd.create("test-vendor-region", REGION_SIZE);
        regionMapping = Mapping.map(regionFd, 0, REGION_SIZE, true);
    }

    /** From now on BAR 0 reads and SET_IRQS block until {@link #release()}. */
    void stick() {
        readGate = new CountDownLatch(1);
    }

    /** Lets the blocked calls, and all later ones, go on. */
    void release() {
        readGate.countDown();
    }

    private void passGate() {
        readsAtGate.release();
        try {
            if (!readGate.await(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
                throw new AssertionError("a stuck device call was not released within " + TestPeer.WAIT_MILLIS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void runDma(DmaView space, long iova, int length, int op) {
        byte[] data = new byte[length];
        try {
            if (op == OP_WRITE) {
                for (int i = 0; i < length; i++) {
                    data[i] = (byte) i;
                }
                space.write(iova, MemorySegment.ofArray(data));
            } else if (op == OP_READ_NATIVE) {
                try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                    MemorySegment buffer = arena.allocate(length, 8);
                    space.read(iova, buffer);
                    MemorySegment.copy(buffer, 0, MemorySegment.ofArray(data), 0, length);
                }
            } else {
                space.read(iova, MemorySegment.ofArray(data));
            }
            dmaResults.add(new DmaResult(data, null));
        } catch (VfioException e) {
            dmaResults.add(new DmaResult(null, e));
        }
    }

    /** The next DMA result of a device thread (bounded wait). */
    DmaResult nextDmaResult() throws InterruptedException {
        DmaResult r = dmaResults.poll(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS);
        if (r == null) {
            throw new AssertionError("the device thread's DMA did not finish within " + TestPeer.WAIT_MILLIS + " ms");
        }
        return r;
    }

    static byte[] dmaCommand(long iova, int length, int op) {
        byte[] b = new byte[16];
        MemorySegment s = MemorySegment.ofArray(b);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, iova);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 8, length);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 12, op);
        return b;
    }

    /** The client's memory as the device sees it (throws when no client is connected). */
    DmaView dmaSpace() throws VfioException {
        return dma();
    }

    void raiseVector(int vector) {
        raise(vector);
    }

    void intx(boolean level) {
        setIntx(level);
    }

    MemorySegment vendorRegion() {
        return regionMapping.segment();
    }

    @Override
    public void open(SessionContext context) throws VfioException {
        super.open(context);
        opens.add(context);
    }

    @Override
    public void setIrqs(IrqSetting request) throws VfioException {
        passGate();
        super.setIrqs(request);
    }

    @Override
    public DeviceSpec info() {
        DeviceSpec core = super.info();
        return new DeviceSpec(core.flags(), VENDOR_REGION + 1, core.numIrqs(), core.capabilities());
    }

    @Override
    public RegionSpec regionInfo(int index) throws VfioException {
        if (index == VENDOR_REGION) {
            return new RegionSpec(REGION_SIZE, Access.READ_WRITE,
                    Optional.of(new RegionSpec.Mmap(regionFd, 0, List.of(new RegionSpec.SparseArea(0, REGION_SIZE / 2)))),
                    List.of(new RegionTypeCap(VENDOR_TYPE, VENDOR_SUBTYPE)));
        }
        return super.regionInfo(index);
    }

    @Override
    public void regionRead(int index, long offset, MemorySegment dst) throws VfioException {
        if (index == VENDOR_REGION) {
            checkVendor(offset, dst.byteSize());
            dst.copyFrom(regionMapping.segment().asSlice(offset, dst.byteSize()));
            return;
        }
        super.regionRead(index, offset, dst);
    }

    @Override
    public void regionWrite(int index, long offset, MemorySegment src) throws VfioException {
        if (index == VENDOR_REGION) {
            checkVendor(offset, src.byteSize());
            regionMapping.segment().asSlice(offset, src.byteSize()).copyFrom(src);
            return;
        }
        super.regionWrite(index, offset, src);
    }

    private static void checkVendor(long offset, long length) throws VfioException {
        if (offset < 0 || offset + length > REGION_SIZE) {
            throw VfioException.invalid("outside the vendor region");
        }
    }

    /** Frees the device's own resources (the memfd behind region 9). */
    void dispose() {
        regionMapping.close();
        regionFd.close();
    }

}
