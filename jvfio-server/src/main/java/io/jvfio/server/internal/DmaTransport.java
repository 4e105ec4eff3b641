package io.jvfio.server.internal;

import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;

/**
 * Reaches client memory that was mapped without an fd: DMA_READ and DMA_WRITE messages. The
 * session implements it; the DMA space calls it only for windows that have no mapping.
 */
public interface DmaTransport {
    /**
     * Fills {@code dst} from client memory at {@code iova}. {@code dst} may be heap or native
     * memory, also native memory confined to the calling thread (another thread writes it while
     * this call waits, never after it returns). After an exception its content is unspecified.
     */
    void read(long iova, MemorySegment dst) throws VfioException;

    /** Copies {@code src} to client memory at {@code iova}. */
    void write(long iova, MemorySegment src) throws VfioException;
}
