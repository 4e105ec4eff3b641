package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Client memory the server may reach through DMA_READ/DMA_WRITE messages: each request is checked
 * to lie inside one registered range, with the permission the range was mapped with (READ lets
 * the device read it, WRITE lets the device write it).
 *
 * <p>A request is served under the read lock ({@link #acquire} … {@link #release}), so a range is
 * removed (and its memory may be freed) only after the copies or sends from it have finished. The
 * read lock is taken even while a remover waits: the thread that reads the socket must never wait
 * behind a remover that waits behind a send that waits for the server, which waits for us to read.
 */
final class DmaMemory {
    private record Range(long iova, MemorySegment memory, int flags) {
        long end() {
            return iova + memory.byteSize();
        }
    }

    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    /** EEXIST when [iova, iova+size) overlaps a registered range; EINVAL when empty or wrapping. */
    void add(long iova, MemorySegment memory, int flags) throws VfioUserException {
        long size = memory.byteSize();
        if (size <= 0 || Long.compareUnsigned(iova + size, iova) <= 0) {
            throw new VfioUserException(Errno.EINVAL, "DMA range [0x%x, +0x%x) is empty or wraps".formatted(iova, size));
        }
        lock.writeLock().lock();
        try {
            Map.Entry<Long, Range> below = ranges.floorEntry(iova + size - 1);
            if (below != null && Long.compareUnsigned(below.getValue().end(), iova) > 0) {
                throw new VfioUserException(Errno.EEXIST, "DMA range [0x%x, +0x%x) overlaps [0x%x, +0x%x)"
                        .formatted(iova, size, below.getKey(), below.getValue().memory.byteSize()));
            }
            ranges.put(iova, new Range(iova, memory, flags));
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Drops every range that starts inside [iova, iova + size), as a server's DMA_UNMAP of that
     * range removes every window inside it (a range that cuts one it refuses, and we never get here).
     */
    void remove(long iova, long size) {
        long last = iova + size - 1;
        lock.writeLock().lock();
        try {
            ranges.values().removeIf(r -> Long.compareUnsigned(r.iova, iova) >= 0 && Long.compareUnsigned(r.iova, last) <= 0);
        } finally {
            lock.writeLock().unlock();
        }
    }

    void clear() {
        lock.writeLock().lock();
        try {
            ranges.clear();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * The registered memory of [iova, iova + length) with {@code permission} (DMA_MAP_FLAG_READ: the
     * device reads it; WRITE: the device writes it), held until {@link #release()}: call that
     * exactly once, in a finally, also when this throws (EFAULT outside the ranges or when the
     * memory was released, EPERM without the permission).
     */
    MemorySegment acquire(long iova, long length, int permission) throws ProtocolException {
        while (!lock.readLock().tryLock()) { // barges past waiting removers (see the class comment)
            Thread.onSpinWait();
        }
        Map.Entry<Long, Range> e = ranges.floorEntry(iova);
        if (e == null || length < 0 || iova + length < iova || iova + length > e.getValue().end()) {
            throw new ProtocolException(Errno.EFAULT, "DMA [0x%x, +0x%x) is outside the registered memory".formatted(iova, length));
        }
        if ((e.getValue().flags & permission) == 0) {
            throw new ProtocolException(Errno.EPERM, "DMA at 0x%x: memory is not %s".formatted(iova,
                    permission == Vfio.DMA_MAP_FLAG_READ ? "readable" : "writable"));
        }
        MemorySegment memory = e.getValue().memory;
        if (!memory.scope().isAlive()) {
            throw new ProtocolException(Errno.EFAULT, "DMA memory at 0x%x was released".formatted(iova));
        }
        return memory.asSlice(iova - e.getValue().iova, length);
    }

    void release() {
        lock.readLock().unlock();
    }

    /** Copies from [iova, +dst.byteSize()) into {@code dst} (the device reads). */
    void read(long iova, MemorySegment dst) throws ProtocolException {
        try {
            copy(acquire(iova, dst.byteSize(), Vfio.DMA_MAP_FLAG_READ), dst);
        } finally {
            release();
        }
    }

    /** Copies {@code src} to [iova, +src.byteSize()) (the device writes). */
    void write(long iova, MemorySegment src) throws ProtocolException {
        try {
            copy(src, acquire(iova, src.byteSize(), Vfio.DMA_MAP_FLAG_WRITE));
        } finally {
            release();
        }
    }

    private static void copy(MemorySegment from, MemorySegment to) throws ProtocolException {
        try {
            to.copyFrom(from);
        } catch (IllegalStateException released) { // the memory's arena was closed under a registration
            throw new ProtocolException(Errno.EFAULT, "DMA memory was released: " + released.getMessage());
        }
    }
}
