package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;

/**
 * Client memory registered without an fd: the server's DMA_READ/DMA_WRITE are served from here,
 * each checked to lie inside one registered range with the right permission.
 */
final class DmaMemory {
    private record Range(long iova, MemorySegment memory, int flags) {
        long end() {
            return iova + memory.byteSize();
        }
    }

    private final TreeMap<Long, Range> ranges = new TreeMap<>();

    synchronized void add(long iova, MemorySegment memory, int flags) {
        ranges.put(iova, new Range(iova, memory, flags));
    }

    synchronized void remove(long iova, long size) {
        Range r = ranges.get(iova);
        if (r != null && r.memory.byteSize() == size) {
            ranges.remove(iova);
        }
    }

    synchronized void clear() {
        ranges.clear();
    }

    synchronized void read(long iova, MemorySegment dst) throws ProtocolException {
        dst.copyFrom(find(iova, dst.byteSize(), Vfio.DMA_MAP_FLAG_READ));
    }

    synchronized void write(long iova, MemorySegment src) throws ProtocolException {
        find(iova, src.byteSize(), Vfio.DMA_MAP_FLAG_WRITE).copyFrom(src);
    }

    private MemorySegment find(long iova, long length, int permission) throws ProtocolException {
        Map.Entry<Long, Range> e = ranges.floorEntry(iova);
        if (e == null || length < 0 || iova + length < iova || iova + length > e.getValue().end()) {
            throw new ProtocolException(Errno.EFAULT, "DMA [0x%x, +0x%x) is outside the registered memory".formatted(iova, length));
        }
        if ((e.getValue().flags & permission) == 0) {
            throw new ProtocolException(Errno.EPERM, "DMA at 0x%x: memory is not %s".formatted(iova,
                    permission == Vfio.DMA_MAP_FLAG_READ ? "readable" : "writable"));
        }
        return e.getValue().memory.asSlice(iova - e.getValue().iova, length);
    }
}
