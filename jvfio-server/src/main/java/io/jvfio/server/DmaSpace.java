package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The client's memory as the device sees it: IOVA windows added by DMA_MAP. A window with an fd
 * is mapped into this process; one without is reached through {@link DmaTransport} messages. Every
 * access is checked against the windows' bounds and permissions; an access may span adjacent
 * windows. Unmapping waits until copies in flight through that mapping have finished.
 */
public final class DmaSpace {
    /** A window of client memory. */
    public record Window(long iova, long size, boolean readable, boolean writable, boolean mapped) {
        /** Whether {@code address} lies inside (unsigned: IOVAs use all 64 bits, a window may end at 2^64). */
        boolean contains(long address) {
            return Long.compareUnsigned(address - iova, size) < 0;
        }

        /** Last address of the window, inclusive (never wraps). */
        long last() {
            return iova + size - 1;
        }
    }

    private record Entry(Window window, Mapping mapping) {}

    // Keyed by IOVA in unsigned order: addresses at or above 2^63 sort after the lower ones.
    private final TreeMap<Long, Entry> windows = new TreeMap<>(Long::compareUnsigned);
    // Read-locked for the duration of a copy through a mapping, write-locked to change windows.
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final int maxWindows;
    private volatile DmaTransport transport;

    public DmaSpace(int maxWindows) {
        this.maxWindows = maxWindows;
    }

    void attach(DmaTransport transport) {
        this.transport = transport;
    }

    /**
     * Adds a window. With an fd, maps {@code size} bytes of it at {@code fileOffset} (ownership
     * of the fd passes to this method: it is closed once mapped or on failure).
     */
    public void map(long iova, long size, boolean readable, boolean writable, Fd fd, long fileOffset) throws VfioException {
        try (fd) {
            if (size == 0 || Long.compareUnsigned(iova + size - 1, iova) < 0) {
                throw VfioException.invalid("DMA window [0x%x, +0x%x) is empty or wraps".formatted(iova, size));
            }
            if (!readable && !writable) {
                throw VfioException.invalid("DMA window 0x%x has neither READ nor WRITE".formatted(iova));
            }
            lock.writeLock().lock();
            try {
                if (windows.size() >= maxWindows) {
                    throw new VfioException(Errno.ENOSPC, "more than " + maxWindows + " DMA windows");
                }
                Entry existing = overlapping(iova, size);
                if (existing != null) {
                    throw new VfioException(Errno.EEXIST, "DMA window [0x%x, +0x%x) overlaps [0x%x, +0x%x)"
                            .formatted(iova, size, existing.window.iova(), existing.window.size()));
                }
                Mapping mapping = null;
                if (fd != null) {
                    try {
                        checkInsideFile(fd, fileOffset, size, iova);
                        mapping = Mapping.map(fd, fileOffset, size, writable);
                    } catch (LinuxException e) {
                        throw new VfioException(e.errno(), "DMA window 0x%x: %s".formatted(iova, e.getMessage()), e);
                    }
                }
                windows.put(iova, new Entry(new Window(iova, size, readable, writable, mapping != null), mapping));
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * A mapping that reaches past the end of its file would raise SIGBUS on access (a JVM crash, not
     * an exception): a window must lie inside the file as it is now.
     */
    private static void checkInsideFile(Fd fd, long fileOffset, long size, long iova) throws LinuxException, VfioException {
        if (!Linux.isRegularFileOrMemfd(fd)) {
            return; // device memory and the like have no size to check against
        }
        long fileSize = Linux.fileSize(fd);
        long end = fileOffset + size;
        if (Long.compareUnsigned(end, fileOffset) < 0 || Long.compareUnsigned(end, fileSize) > 0) {
            throw VfioException.invalid("DMA window 0x%x: [0x%x, +0x%x) of its fd lies beyond the file's 0x%x bytes"
                    .formatted(iova, fileOffset, size, fileSize));
        }
    }

    /** Removes the window that exactly matches [iova, iova+size). */
    public void unmap(long iova, long size) throws VfioException {
        lock.writeLock().lock();
        try {
            Entry entry = windows.get(iova);
            if (entry == null || entry.window.size() != size) {
                throw VfioException.invalid("no DMA window [0x%x, +0x%x)".formatted(iova, size));
            }
            windows.remove(iova);
            if (entry.mapping != null) {
                entry.mapping.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Removes every window (UNMAP_ALL, or the client went away). */
    public void unmapAll() {
        lock.writeLock().lock();
        try {
            for (Entry entry : windows.values()) {
                if (entry.mapping != null) {
                    entry.mapping.close();
                }
            }
            windows.clear();
        } finally {
            lock.writeLock().unlock();
        }
    }

    public List<Window> windows() {
        lock.readLock().lock();
        try {
            List<Window> list = new ArrayList<>(windows.size());
            for (Entry e : windows.values()) {
                list.add(e.window);
            }
            return list;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Device reads client memory: fills {@code dst} from {@code iova}. EFAULT outside windows. */
    public void read(long iova, MemorySegment dst) throws VfioException {
        copy(iova, dst, false);
    }

    /** Device writes client memory. EFAULT outside windows, EPERM on a read-only window. */
    public void write(long iova, MemorySegment src) throws VfioException {
        copy(iova, src, true);
    }

    private void copy(long iova, MemorySegment buffer, boolean toClient) throws VfioException {
        long length = buffer.byteSize();
        long done = 0;
        while (done < length) {
            long at = iova + done;
            if (Long.compareUnsigned(at, iova) < 0) { // the access ran past 2^64
                throw fault(iova, length);
            }
            long chunk;
            Window messageWindow = null;
            lock.readLock().lock();
            try {
                Map.Entry<Long, Entry> floor = windows.floorEntry(at);
                if (floor == null || !floor.getValue().window.contains(at)) {
                    throw fault(iova, length);
                }
                Entry entry = floor.getValue();
                Window w = entry.window;
                if (toClient ? !w.writable() : !w.readable()) {
                    throw new VfioException(Errno.EPERM, "DMA %s of [0x%x, +0x%x): window 0x%x is %s"
                            .formatted(toClient ? "write" : "read", iova, length, w.iova(), toClient ? "read-only" : "write-only"));
                }
                long left = w.size() - (at - w.iova()); // bytes of the window from at on (unsigned)
                chunk = Long.compareUnsigned(left, length - done) < 0 ? left : length - done;
                if (entry.mapping != null) {
                    MemorySegment client = entry.mapping.segment().asSlice(at - w.iova(), chunk);
                    MemorySegment local = buffer.asSlice(done, chunk);
                    if (toClient) {
                        client.copyFrom(local);
                    } else {
                        local.copyFrom(client);
                    }
                } else {
                    messageWindow = w;
                }
            } finally {
                lock.readLock().unlock();
            }
            if (messageWindow != null) {
                // No lock across the round trip: the session thread that would unmap must stay free
                // to read the client's reply.
                DmaTransport t = transport;
                if (t == null) {
                    throw new VfioException(Errno.ENODEV, "no client connected for DMA");
                }
                MemorySegment part = buffer.asSlice(done, chunk);
                if (toClient) {
                    t.write(at, part);
                } else {
                    t.read(at, part);
                }
            }
            done += chunk;
        }
    }

    /**
     * Direct access to mapped client memory for devices that work in place (rings, buffers).
     * The segment becomes unusable (IllegalStateException on access, never a crash) once the
     * window is unmapped. Empty when the range is not inside one mapped window.
     */
    public java.util.Optional<MemorySegment> segment(long iova, long length, boolean forWrite) {
        lock.readLock().lock();
        try {
            Map.Entry<Long, Entry> floor = windows.floorEntry(iova);
            if (floor == null || floor.getValue().mapping == null) {
                return java.util.Optional.empty();
            }
            Entry entry = floor.getValue();
            Window w = entry.window;
            if (length < 0 || !w.contains(iova) || Long.compareUnsigned(length, w.size() - (iova - w.iova())) > 0
                    || (forWrite ? !w.writable() : !w.readable())) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(entry.mapping.segment().asSlice(iova - w.iova(), length));
        } finally {
            lock.readLock().unlock();
        }
    }

    private Entry overlapping(long iova, long size) {
        Map.Entry<Long, Entry> floor = windows.floorEntry(iova + size - 1);
        if (floor != null && Long.compareUnsigned(floor.getValue().window.last(), iova) >= 0) {
            return floor.getValue();
        }
        return null;
    }

    private static VfioException fault(long iova, long length) {
        return new VfioException(Errno.EFAULT, "DMA access [0x%x, +0x%x) is outside the mapped windows".formatted(iova, length));
    }
}
