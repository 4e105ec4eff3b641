package io.jvfio.client;

import io.jvfio.linux.Mapping;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Driver memory from {@link DeviceHandle#allocateDma}: mapped here and DMA-mapped at {@link #iova()}
 * for the device, so both see the same bytes (with vfio-user: a memfd the server maps too).
 * {@link #close()} unmaps it for the device (while it is reachable) and here; afterwards the segment
 * fails with IllegalStateException.
 */
public final class DmaBuffer implements AutoCloseable {
    private final long iova;
    private final Mapping mapping;
    private final Release release;
    private boolean closed;

    /** How the device that handed out a buffer ends it: its DMA unmap, then {@code mapping}'s. */
    @FunctionalInterface
    public interface Release {
        void release(DmaBuffer buffer, Mapping mapping) throws IOException;
    }

    /** For {@link DeviceHandle} implementations: {@code mapping} reached by the device at {@code iova}. */
    public DmaBuffer(long iova, Mapping mapping, Release release) {
        this.iova = iova;
        this.mapping = mapping;
        this.release = release;
    }

    /** Where the device sees this memory. */
    public long iova() {
        return iova;
    }

    public long size() {
        return mapping.length();
    }

    /** The memory, as this process sees it. */
    public MemorySegment segment() {
        return mapping.segment();
    }

    /** The device's DMA unmap (if it is reachable), then the local unmap; idempotent. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        release.release(this, mapping);
    }

    @Override
    public String toString() {
        return "DmaBuffer[iova=0x" + Long.toHexString(iova) + ", size=0x" + Long.toHexString(size()) + "]";
    }
}
