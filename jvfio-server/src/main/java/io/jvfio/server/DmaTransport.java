package io.jvfio.server;

import java.lang.foreign.MemorySegment;

/**
 * Reaches client memory that was mapped without an fd: DMA_READ and DMA_WRITE messages. The
 * session implements it; the DMA space calls it only for windows that have no mapping.
 */
public interface DmaTransport {
    /** Fills {@code dst} from client memory at {@code iova}. */
    void read(long iova, MemorySegment dst) throws VfioException;

    /** Copies {@code src} to client memory at {@code iova}. */
    void write(long iova, MemorySegment src) throws VfioException;
}
