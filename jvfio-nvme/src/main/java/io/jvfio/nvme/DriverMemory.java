package io.jvfio.nvme;

import io.jvfio.client.DeviceHandle;
import io.jvfio.client.DmaBuffer;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The driver's DMA memory, page-aligned regions at increasing IOVAs from a base: either
 * {@link DeviceHandle#allocateDma} (memory the device maps too, e.g. a memfd sent to a vfio-user
 * server) or process memory handed over with {@link DeviceHandle#registerMemory}, which the device
 * reaches only through the handle (vfio-user DMA_READ/DMA_WRITE messages).
 */
final class DriverMemory implements AutoCloseable {
    private static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;

    private final DeviceHandle device;
    private final boolean shared;
    /** How each region ends, by IOVA, oldest first. */
    private final Map<Long, AutoCloseable> releases = new LinkedHashMap<>();
    private long nextIova;

    DriverMemory(DeviceHandle device, boolean shared, long iovaBase) {
        if ((iovaBase & (DriverPages.PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("the IOVA base 0x%x is not page-aligned".formatted(iovaBase));
        }
        this.device = device;
        this.shared = shared;
        this.nextIova = iovaBase;
    }

    /** A zeroed region of {@code bytes} rounded up to whole pages. */
    synchronized DmaRegion allocate(long bytes) throws IOException {
        if (bytes <= 0) {
            throw new IllegalArgumentException("a DMA region of %d bytes".formatted(bytes));
        }
        long size = (bytes + DriverPages.PAGE_SIZE - 1) & -DriverPages.PAGE_SIZE;
        long iova = nextIova;
        DmaRegion region;
        if (shared) {
            DmaBuffer buffer = device.allocateDma(iova, size);
            // The device's address of the buffer: the IOVA asked for, except without an IOMMU (its physical address).
            releases.put(buffer.iova(), buffer);
            region = new DmaRegion(buffer.segment(), buffer.iova());
        } else {
            Arena arena = Arena.ofShared();
            MemorySegment memory = arena.allocate(size, DriverPages.PAGE_SIZE);
            try {
                device.registerMemory(iova, memory, RW);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
            releases.put(iova, () -> {
                try {
                    if (device.isConnected()) {
                        device.dmaUnmap(iova, size);
                    }
                } finally {
                    arena.close();
                }
            });
            region = new DmaRegion(memory, iova);
        }
        nextIova = iova + size;
        return region;
    }

    /** Ends one region (the device can no longer reach it; its segment fails afterwards). */
    synchronized void release(DmaRegion region) throws IOException {
        AutoCloseable release = releases.remove(region.iova());
        if (release == null) {
            throw new IllegalArgumentException(region + " is not memory of this driver");
        }
        close(release);
    }

    private static void close(AutoCloseable release) throws IOException {
        try {
            release.close();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** Ends every region; the first failure is thrown after all were tried. */
    @Override
    public synchronized void close() throws IOException {
        IOException failed = null;
        for (AutoCloseable release : releases.values()) {
            try {
                close(release);
            } catch (IOException e) {
                if (failed == null) {
                    failed = e;
                }
            }
        }
        releases.clear();
        if (failed != null) {
            throw failed;
        }
    }
}
