package io.jvfio.client;

import io.jvfio.linux.Mapping;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Driver memory from {@link VfioUserClient#allocateDma}: a memfd mapped here and DMA-mapped at
 * {@link #iova()} on the server with the same fd, so both see the same bytes. {@link #close()}
 * unmaps it on the server (while connected) and here; afterwards the segment fails with
 * IllegalStateException.
 */
public final class DmaBuffer implements AutoCloseable {
    private final VfioUserClient client;
    private final long iova;
    private final Mapping mapping;
    private boolean closed;

    DmaBuffer(VfioUserClient client, long iova, Mapping mapping) {
        this.client = client;
        this.iova = iova;
        this.mapping = mapping;
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

    /** DMA_UNMAP (if the connection is up), then the local unmap; idempotent. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        client.release(this, mapping);
    }

    @Override
    public String toString() {
        return "DmaBuffer[iova=0x" + Long.toHexString(iova) + ", size=0x" + Long.toHexString(size()) + "]";
    }
}
