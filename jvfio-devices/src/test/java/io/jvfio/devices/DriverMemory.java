package io.jvfio.devices;

import io.jvfio.client.DmaBuffer;
import io.jvfio.client.VfioUserClient;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A test driver's "guest" memory at one IOVA: shared with the server by fd (it maps it), or
 * registered without one (the server reaches it only by DMA_READ/DMA_WRITE messages). Closing
 * it unmaps it on both sides.
 */
public final class DriverMemory implements AutoCloseable {
    private final VfioUserClient client;
    private final long iova;
    private final MemorySegment memory;
    private final DmaBuffer shared;
    private final Arena arena;

    public DriverMemory(VfioUserClient client, long iova, long size, boolean sharedWithServer) throws IOException {
        this.client = client;
        this.iova = iova;
        if (sharedWithServer) {
            shared = client.allocateDma(iova, size);
            arena = null;
            memory = shared.segment();
        } else {
            shared = null;
            arena = Arena.ofShared();
            memory = arena.allocate(size, 4096);
            client.registerMemory(iova, memory, Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE);
        }
    }

    public MemorySegment segment() {
        return memory;
    }

    @Override
    public void close() throws IOException {
        if (shared != null) {
            shared.close();
            return;
        }
        try {
            if (client.isConnected()) {
                client.dmaUnmap(iova, memory.byteSize());
            }
        } finally {
            arena.close();
        }
    }
}
