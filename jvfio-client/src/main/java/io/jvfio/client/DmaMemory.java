package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;

/**
 * Client memory the server may reach through DMA_READ/DMA_WRITE messages: each request is checked
 * to lie inside one registered range, with the permission the range was mapped with (READ lets
 * the device read it, WRITE lets the device write it).
 */
final class DmaMemory {
    private record Range(long iova, MemorySegment memory, int flags) {
        long end() {
            return iova + memory.byteSize();
        }
    }

    private final TreeMap<Long, Range> ranges = new TreeMap<>();

    /** EEXIST when [iova, iova+size) overlaps a registered range; EINVAL when empty or wrapping. */
    synchronized void add(long iova, MemorySegment memory, int flags) throws VfioUserException {
        long size = memory.byteSize();
        if (size <= 0 || Long.compareUnsigned(iova + size, iova) <= 0) {
            throw new VfioUserException(Errno.EINVAL, "DMA range [0x%x, +0x%x) is empty or wraps".formatted(iova, size));
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(iova + size - 1);
        if (below != null && Long.compareUnsigned(below.getValue().end(), iova) > 0) {
            throw new VfioUserException(Errno.EEXIST, "DMA range [0x%x, +0x%x) overlaps [0x%x, +0x%x)"
                    .formatted(iova, size, below.getKey(), below.getValue().memory.byteSize()));
        }
        ranges.put(iova, new Range(iova, memory, flags));
    }

    synchronized boolean remove(long iova, long size) {
        Range r = ranges.get(iova);
        if (r != null && r.memory.byteSize() == size) {
            ranges.remove(iova);
            return true;
        }
        return false;
    }

    synchronized void clear() {
        ranges.clear();
    }

    synchronized void read(long iova, MemorySegment dst) throws ProtocolException {
        copy(find(iova, dst.byteSize(), Vfio.DMA_MAP_FLAG_READ), dst);
    }

    synchronized void write(long iova, MemorySegment src) throws ProtocolException {
        copy(src, find(iova, src.byteSize(), Vfio.DMA_MAP_FLAG_WRITE));
    }

    private static void copy(MemorySegment from, MemorySegment to) throws ProtocolException {
        try {
            to.copyFrom(from);
        } catch (IllegalStateException released) { // the memory's arena was closed under a registration
            throw new ProtocolException(Errno.EFAULT, "DMA memory was released: " + released.getMessage());
        }
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
