package io.jvfio.client;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.protocol.InfoCapability;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.DeviceSpec;
import io.jvfio.server.DmaView;
import io.jvfio.server.MemoryRegionHandler;
import io.jvfio.server.PciDevice;
import io.jvfio.server.RegionSpec;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A PCI device for client tests:
 * <ul>
 *   <li>BAR 0: 2 MiB of RAM whose initial byte at offset i is {@link #pattern(long)};</li>
 *   <li>BAR 1: a doorbell page whose reads and writes go to hooks the test sets;</li>
 *   <li>BAR 2: 16 KiB backed by a memfd, mmap-able in two sparse areas ([0, 4K) and [8K, 16K)), the rest trapped;</li>
 *   <li>BAR 3: the MSI-X table (8 vectors) and PBA;</li>
 *   <li>BAR 4: 8 KiB backed by a memfd, mmap-able as a whole;</li>
 *   <li>INTx pin A; extra device-info capabilities; DEVICE_FEATURE through a hook.</li>
 * </ul>
 */
class TestDevice extends PciDevice {
    static final int RAM = 0, DOORBELL = 1, SPARSE = 2, MSIX = 3, WHOLE = 4;
    static final long RAM_SIZE = 2 << 20, SPARSE_SIZE = 0x4000, WHOLE_SIZE = 0x2000;
    static final int MSIX_VECTORS = 8;

    interface ReadHook {
        void read(long offset, MemorySegment dst) throws VfioException;
    }

    interface WriteHook {
        void write(long offset, MemorySegment src) throws VfioException;
    }

    interface FeatureHook {
        byte[] feature(int flags, byte[] data) throws VfioException;
    }

    final MemorySegment ram = MemorySegment.ofArray(new byte[(int) RAM_SIZE]);
    final AtomicInteger ramReads = new AtomicInteger();
    final AtomicInteger resets = new AtomicInteger();
    volatile ReadHook doorbellRead = (offset, dst) -> dst.fill((byte) 0);
    volatile WriteHook doorbellWrite = (offset, src) -> { };
    volatile FeatureHook featureHook;
    volatile List<InfoCapability> infoCaps = List.of();
    private final Fd sparseFd, wholeFd;
    final Mapping sparse, whole;   // the device's own view of the mmap-able BARs

    TestDevice() {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(0x1af4).deviceId(0x10f0)
                .interruptPin(1)
                .bar(Bar.memory32(RAM, RAM_SIZE))
                .bar(Bar.memory32(DOORBELL, 0x1000))
                .bar(Bar.memory32(SPARSE, SPARSE_SIZE))
                .bar(Bar.memory32(MSIX, 0x1000))
                .bar(Bar.memory32(WHOLE, WHOLE_SIZE))
                .capability(Capabilities.msix(MSIX_VECTORS, MSIX, 0, MSIX, 0x800))
                .build());
        for (long i = 0; i < RAM_SIZE; i++) {
            ram.set(ValueLayout.JAVA_BYTE, i, pattern(i));
        }
        try {
            sparseFd = Memfd.create("test-sparse", SPARSE_SIZE);
            wholeFd = Memfd.create("test-whole", WHOLE_SIZE);
            sparse = Mapping.map(sparseFd, 0, SPARSE_SIZE, true);
            whole = Mapping.map(wholeFd, 0, WHOLE_SIZE, true);
        } catch (LinuxException e) {
            throw new UncheckedIOException(e);
        }
        bar(RAM, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                ramReads.incrementAndGet();
                MemorySegment.copy(ram, offset, dst, 0, dst.byteSize());
            }

            @Override
            public void write(long offset, MemorySegment src) {
                MemorySegment.copy(src, 0, ram, offset, src.byteSize());
            }
        });
        bar(DOORBELL, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) throws VfioException {
                doorbellRead.read(offset, dst);
            }

            @Override
            public void write(long offset, MemorySegment src) throws VfioException {
                doorbellWrite.write(offset, src);
            }
        });
        bar(SPARSE, new MemoryRegionHandler(sparse.segment()), new RegionSpec.Mmap(sparseFd, 0,
                List.of(new RegionSpec.SparseArea(0, 0x1000), new RegionSpec.SparseArea(0x2000, 0x2000))));
        bar(WHOLE, new MemoryRegionHandler(whole.segment()), RegionSpec.Mmap.whole(wholeFd));
    }

    static byte pattern(long offset) {
        return (byte) (offset * 31 + (offset >>> 8) * 7 + 1);
    }

    @Override
    public DeviceSpec info() {
        return super.info().withCapabilities(infoCaps);
    }

    @Override
    public byte[] feature(int flags, byte[] data) throws VfioException {
        FeatureHook h = featureHook;
        return h == null ? super.feature(flags, data) : h.feature(flags, data);
    }

    @Override
    protected void resetDevice() {
        resets.incrementAndGet();
    }

    /** The client's memory as this device sees it (fails while no client is connected). */
    DmaView dmaSpace() throws VfioException {
        return dma();
    }

    /** Raises vector {@code vector} of irq {@code index} directly on the interrupt lines. */
    void fire(int index, int vector) {
        interrupts().trigger(index, vector);
    }

    void dispose() {
        List<AutoCloseable> all = new ArrayList<>(List.of(sparse, whole, sparseFd, wholeFd));
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception ignored) {
                // test cleanup
            }
        }
    }
}
