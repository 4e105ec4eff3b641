package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.IoVectors;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.server.Access;
import io.jvfio.server.DmaView;
import io.jvfio.server.DmaWindow;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.Faults;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The client's memory as the device sees it: IOVA windows added by DMA_MAP. A window with an fd
 * is mapped into this process; one without is reached through {@link DmaTransport} messages. Every
 * access is checked against the windows' bounds and permissions; an access may span adjacent
 * windows. Unmapping waits until copies in flight through that mapping have finished; an unmap
 * may remove several windows at once, or none ({@link #unmap}).
 *
 * <p>Dirty logging (migration): while on, every byte the device writes — through a mapping or by
 * a DMA_WRITE message — marks its page after the write. Segments handed out for writing
 * ({@link #segment} with {@code forWrite}) are written behind our back, so their pages count as
 * dirty in every report for as long as their window exists.
 *
 * <p>Injected faults: each {@link #read}/{@link #write} asks the device's fault rules once, before
 * any byte moves ({@link FaultAction.FailDma}, {@link FaultAction.RemoveDmaWindow}). So that every
 * transfer meets them, and only once, the in-place ways are off while any rule is armed:
 * {@link #segment} answers empty and {@link #transferMapped} false, and the device copies instead.
 * Segments it already holds are not asked; a window a fault removes makes them unusable.
 *
 * <p>Over 600 lines because windows, their lookups, dirty logging and injected faults share one
 * lock and one index, which a split would have to expose.
 */
public final class DmaSpace implements DmaView {
    /** An access that finds no window this soon after an unmap may be in an unmap/map gap: it waits (see {@link DmaView}). */
    private static final long RECENT_UNMAP_NANOS = 1_000_000_000L;
    private static final long AWAIT_POLL_NANOS = 1_000_000L;
    /**
     * The IOMMU page an unmap range is aligned to when it is not one window's exact range: the
     * vfio-user default of the pgsizes capability, which the server's VERSION reply leaves as it is.
     */
    private static final long UNMAP_PAGE = VersionCapabilities.DEFAULT_PGSIZES;

    // Keyed by IOVA in unsigned order: addresses at or above 2^63 sort after the lower ones.
    private final TreeMap<Long, Entry> windows = new TreeMap<>(Long::compareUnsigned);
    /**
     * The windows' entries in the same order, for lookups on the DMA path: a binary search over
     * primitive IOVAs boxes nothing and returns no map entry. Replaced (never changed) under the write lock.
     */
    private Entry[] byIova = new Entry[0];
    // Read-locked for the duration of a copy through a mapping, write-locked to change windows.
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final int maxWindows;
    private final Faults faults;
    /** Windows an injected fault removed: the client, not knowing, may still unmap them exactly. */
    private final List<DmaWindow> removedByFault = new ArrayList<>();
    private volatile DmaTransport transport;
    private volatile DirtyLog dirtyLog;
    /** System.nanoTime() of the last unmap; meaningful only while {@code unmapped} is set. */
    private volatile long lastUnmap;
    private volatile boolean unmapped;
    private volatile boolean keepFds;

    /**
     * {@code lent}: pages of the window handed out as writable segments (bit = 4 KiB page from the
     * window's page). {@code fd}: with {@link #keepFds()}, the window's fd, open as long as the
     * window, so a live upgrade can hand it to a successor ({@link #export()}); else null.
     */
    private record Entry(DmaWindow window, Mapping mapping, BitSet lent, Fd fd, long fileOffset) {
        void close() {
            if (mapping != null) {
                mapping.close();
            }
            if (fd != null) {
                fd.close();
            }
        }
    }

    /** A window as a live upgrade carries it: its table row, and a duplicate of its fd (null without one). */
    public record ExportedWindow(long iova, long size, Set<Access> access, Fd fd, long fileOffset) {}

    public DmaSpace(int maxWindows) {
        this(maxWindows, new Faults());
    }

    /** A DMA space whose transfers ask {@code faults} first. */
    public DmaSpace(int maxWindows, Faults faults) {
        this.maxWindows = maxWindows;
        this.faults = faults;
    }

    /** From now on a mapped window keeps its fd open (a live upgrade is offered): one fd per window. */
    void keepFds() {
        keepFds = true;
    }

    void attach(DmaTransport transport) {
        this.transport = transport;
    }

    /**
     * Adds a window. With an fd, maps {@code size} bytes of it at {@code fileOffset} (ownership
     * of the fd passes to this method: it is closed once mapped or on failure — or, with
     * {@link #keepFds()}, kept with the window until it is unmapped).
     */
    public void map(long iova, long size, Set<Access> access, Fd fd, long fileOffset) throws VfioException {
        boolean kept = false;
        try {
            if (size == 0 || Long.compareUnsigned(iova + size - 1, iova) < 0) {
                throw VfioException.invalid("DMA window [0x%x, +0x%x) is empty or wraps".formatted(iova, size));
            }
            if (access.isEmpty()) {
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
                    if (fileOffset < 0) {
                        throw VfioException.invalid("DMA window 0x%x: negative file offset 0x%x".formatted(iova, fileOffset));
                    }
                    try {
                        checkInsideFile(fd, fileOffset, size, iova);
                        mapping = Mapping.map(fd, fileOffset, size, access.contains(Access.WRITE));
                    } catch (LinuxException e) {
                        throw new VfioException(e.errno(), "DMA window 0x%x: %s".formatted(iova, e.getMessage()), e);
                    }
                }
                removedByFault.removeIf(w -> overlaps(w, iova, iova + size - 1));
                windows.put(iova, new Entry(new DmaWindow(iova, size, access, mapping != null), mapping, new BitSet(),
                        keepFds ? fd : null, fileOffset));
                kept = keepFds;
                byIova = windows.values().toArray(Entry[]::new);
                DirtyLog log = dirtyLog;
                if (log != null && log.logsEverything()) {
                    log.track(iova, iova + size - 1);
                }
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            if (!kept && fd != null) {
                fd.close();
            }
        }
    }

    /**
     * Every window with a duplicate of its fd, for a successor process; the caller owns the
     * duplicates. Fails on the first fd that cannot be duplicated, closing those made so far, and
     * for a mapped window whose fd was not kept.
     */
    public List<ExportedWindow> export() throws LinuxException {
        lock.readLock().lock();
        List<ExportedWindow> exported = new ArrayList<>(windows.size());
        try {
            for (Entry e : windows.values()) {
                if (e.mapping != null && e.fd == null) {
                    throw new LinuxException("export", "DMA window 0x%x was mapped before a live upgrade was offered: its fd is gone"
                            .formatted(e.window.iova()), Errno.EBADF);
                }
                exported.add(new ExportedWindow(e.window.iova(), e.window.size(), e.window.access(),
                        e.fd == null ? null : e.fd.duplicate(), e.fileOffset));
            }
            return exported;
        } catch (LinuxException failed) {
            exported.forEach(w -> {
                if (w.fd() != null) {
                    w.fd().close();
                }
            });
            throw failed;
        } finally {
            lock.readLock().unlock();
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

    /**
     * DMA_UNMAP of [iova, iova + size): removes every window inside that range and returns the bytes
     * they held (unsigned), which may be none. vfio-user asks the client to name one window exactly,
     * and such a request always succeeds. Any other range is taken as the kernel's type1v2 takes it
     * (QEMU behind a vIOMMU unmaps its address space in large aligned chunks): its ends must lie on
     * {@link #UNMAP_PAGE} boundaries, and it may cover no window or several but not cut one — EINVAL
     * then, with nothing removed.
     */
    public long unmap(long iova, long size) throws VfioException {
        if (size == 0 || Long.compareUnsigned(iova + size - 1, iova) < 0) {
            throw VfioException.invalid("DMA_UNMAP [0x%x, +0x%x) is empty or wraps".formatted(iova, size));
        }
        long last = iova + size - 1;
        lock.writeLock().lock();
        try {
            Entry exact = windows.get(iova);
            if (exact == null && removedByFault.removeIf(w -> w.iova() == iova && w.size() == size)) {
                return 0; // a window a fault took away: already gone
            }
            if (exact == null || exact.window.size() != size) {
                checkRangeUnmap(iova, size, last);
            }
            SortedMap<Long, Entry> inside = windows.subMap(iova, true, last, true);
            if (inside.isEmpty()) {
                return 0;
            }
            List<Entry> removed = new ArrayList<>(inside.values());
            inside.clear();
            byIova = windows.values().toArray(Entry[]::new);
            noteUnmap();
            long bytes = 0;
            for (Entry entry : removed) {
                entry.close();
                bytes += entry.window.size();
            }
            return bytes;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The type1v2 rules for an unmap that is not one window's exact range; with the write lock held. */
    private void checkRangeUnmap(long iova, long size, long last) throws VfioException {
        if (((iova | size) & (UNMAP_PAGE - 1)) != 0) {
            throw VfioException.invalid("DMA_UNMAP [0x%x, +0x%x) is neither one window nor page-aligned"
                    .formatted(iova, size));
        }
        Entry first = floor(iova);
        Entry end = floor(last);
        Entry cut = first != null && first.window.contains(iova) && first.window.iova() != iova ? first
                : end != null && end.window.contains(last) && end.window.last() != last ? end
                : null;
        if (cut != null) {
            throw VfioException.invalid("DMA_UNMAP [0x%x, +0x%x) cuts the window [0x%x, +0x%x)"
                    .formatted(iova, size, cut.window.iova(), cut.window.size()));
        }
    }

    /** Removes every window (UNMAP_ALL, or the client went away). */
    public void unmapAll() {
        lock.writeLock().lock();
        try {
            for (Entry entry : windows.values()) {
                entry.close();
            }
            windows.clear();
            byIova = new Entry[0];
            removedByFault.clear();
            noteUnmap();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void noteUnmap() {
        lastUnmap = System.nanoTime();
        unmapped = true;
    }

    @Override
    public List<DmaWindow> windows() {
        lock.readLock().lock();
        try {
            List<DmaWindow> list = new ArrayList<>(windows.size());
            for (Entry e : windows.values()) {
                list.add(e.window);
            }
            return list;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Removes the windows [iova, iova + length) touches as if the client had unmapped them (an
     * injected {@link FaultAction.RemoveDmaWindow}): their mappings close, so segments of them become
     * unusable; copies in flight through them finish first. Unlike an unmap, this opens no
     * unmap/map gap for accesses to wait out: the memory is gone until the client maps it again.
     */
    private void removeByFault(long iova, long length) {
        if (lock.getReadHoldCount() > 0) {
            return; // inside a transfer of this thread's (transferMapped's I/O): the window stays
        }
        long last = iova + Math.max(length, 1) - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            last = -1L; // the transfer runs past 2^64: up to the last address
        }
        lock.writeLock().lock();
        try {
            List<Entry> removed = new ArrayList<>();
            for (Entry e : byIova) {
                if (overlaps(e.window, iova, last)) {
                    removed.add(e);
                }
            }
            for (Entry e : removed) {
                windows.remove(e.window.iova());
                removedByFault.add(e.window);
                if (e.mapping != null) {
                    e.mapping.close();
                }
            }
            byIova = windows.values().toArray(Entry[]::new);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Whether window {@code w} shares a byte with [first, last] (inclusive, unsigned). */
    private static boolean overlaps(DmaWindow w, long first, long last) {
        return Long.compareUnsigned(w.iova(), last) <= 0 && Long.compareUnsigned(w.last(), first) >= 0;
    }

    /**
     * Asks the fault rules about a transfer (only when a DMA rule is armed: nothing is allocated
     * otherwise) and fails it as a rule says: with the rule's errno, or with EFAULT after removing
     * the windows it touches.
     */
    private void injectFault(long iova, long length, boolean toClient) throws VfioException {
        if (!faults.watchesDma()) {
            return;
        }
        FaultAction action = faults.onDma(iova, length, toClient);
        switch (action) {
            case null -> {}
            case FaultAction.FailDma fail -> throw new VfioException(fail.errno(), "injected fault: DMA %s of [0x%x, +0x%x)"
                    .formatted(toClient ? "write" : "read", iova, length));
            case FaultAction.RemoveDmaWindow ignored -> {
                removeByFault(iova, length);
                throw fault(iova, length);
            }
            default -> throw new IllegalStateException("not a DMA action: " + action);
        }
    }

    @Override
    public void read(long iova, MemorySegment dst) throws VfioException {
        copyAcrossGap(iova, dst, 0, dst.byteSize(), false);
    }

    @Override
    public void write(long iova, MemorySegment src) throws VfioException {
        copyAcrossGap(iova, src, 0, src.byteSize(), true);
    }

    @Override
    public void read(long iova, MemorySegment dst, long offset, long length) throws VfioException {
        java.util.Objects.checkFromIndexSize(offset, length, dst.byteSize());
        copyAcrossGap(iova, dst, offset, length, false);
    }

    @Override
    public void write(long iova, MemorySegment src, long offset, long length) throws VfioException {
        java.util.Objects.checkFromIndexSize(offset, length, src.byteSize());
        copyAcrossGap(iova, src, offset, length, true);
    }

    @Override
    public boolean transferMapped(long[] iovas, long[] lengths, int count, long total, boolean toClient,
                                  IoVectors vectors, MappedTransfer io) throws IOException {
        vectors.clear();
        if (faults.watchesDma()) {
            return false; // the device copies, and each copy meets the rules
        }
        lock.readLock().lock();
        try {
            long left = total;
            for (int i = 0; i < count && left > 0; i++) {
                long iova = iovas[i], length = Math.min(lengths[i], left);
                Entry entry = floor(iova);
                if (entry == null || entry.mapping == null || length <= 0) {
                    return false;
                }
                DmaWindow w = entry.window;
                long offset = iova - w.iova();
                if (Long.compareUnsigned(offset, w.size()) >= 0 || Long.compareUnsigned(length, w.size() - offset) > 0
                        || (toClient ? !w.writable() : !w.readable())
                        || !vectors.add(entry.mapping.segment().address() + offset, length)) {
                    return false;
                }
                left -= length;
            }
            if (left > 0) {
                return false;
            }
            io.transfer(vectors);
        } finally {
            lock.readLock().unlock();
        }
        if (toClient) {
            long left = total;
            for (int i = 0; i < count && left > 0; i++) {
                long length = Math.min(lengths[i], left);
                markDirty(iovas[i], length);   // after the write, as copy does
                left -= length;
            }
        }
        return true;
    }

    /** {@link #copy}, once more after an unmap/map gap closed if the first attempt fell into one. */
    private void copyAcrossGap(long iova, MemorySegment buffer, long offset, long length, boolean toClient)
            throws VfioException {
        injectFault(iova, length, toClient);
        try {
            copy(iova, buffer, offset, length, toClient);
        } catch (VfioException | IllegalStateException e) {
            if (!mayBeInGap(e, iova, length) || !awaitMapped(iova, length)) {
                throw e;
            }
            copy(iova, buffer, offset, length, toClient);
        }
    }

    /**
     * Whether a failed access may have hit an unmap/map gap: its window was gone (EFAULT with no
     * window covering it now), or its mapping was closed under the copy.
     */
    private boolean mayBeInGap(Exception e, long iova, long length) {
        return e instanceof IllegalStateException
                || (e instanceof VfioException v && v.errno() == Errno.EFAULT && !covered(iova, length));
    }

    @Override
    public boolean awaitMapped(long iova, long length) {
        if (covered(iova, length)) {
            return true;
        }
        long since = System.nanoTime() - lastUnmap;
        if (!unmapped || since > RECENT_UNMAP_NANOS) {
            return false; // no gap in progress: memory that is not there is a fault
        }
        long deadline = System.nanoTime() + REMAP_GRACE.toNanos();
        while (!covered(iova, length)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(AWAIT_POLL_NANOS);
        }
        return true;
    }

    /** Whether one window covers [iova, iova + length). */
    private boolean covered(long iova, long length) {
        lock.readLock().lock();
        try {
            Entry floor = floor(iova);
            if (floor == null) {
                return false;
            }
            DmaWindow w = floor.window;
            long offset = iova - w.iova();
            return Long.compareUnsigned(offset, w.size()) < 0 && Long.compareUnsigned(length, w.size() - offset) <= 0;
        } finally {
            lock.readLock().unlock();
        }
    }

    private void copy(long iova, MemorySegment buffer, long offset, long length, boolean toClient) throws VfioException {
        long done = 0;
        while (done < length) {
            long at = iova + done;
            if (Long.compareUnsigned(at, iova) < 0) { // the access ran past 2^64
                throw fault(iova, length);
            }
            long chunk;
            DmaWindow messageWindow = null;
            lock.readLock().lock();
            try {
                Entry entry = floor(at);
                if (entry == null || !entry.window.contains(at)) {
                    throw fault(iova, length);
                }
                DmaWindow w = entry.window;
                if (toClient ? !w.writable() : !w.readable()) {
                    throw new VfioException(Errno.EPERM, "DMA %s of [0x%x, +0x%x): window 0x%x is %s"
                            .formatted(toClient ? "write" : "read", iova, length, w.iova(), toClient ? "read-only" : "write-only"));
                }
                long left = w.size() - (at - w.iova()); // bytes of the window from at on (unsigned)
                chunk = Long.compareUnsigned(left, length - done) < 0 ? left : length - done;
                if (entry.mapping != null) {
                    MemorySegment client = entry.mapping.segment();
                    try {
                        if (toClient) {
                            MemorySegment.copy(buffer, offset + done, client, at - w.iova(), chunk);
                        } else {
                            MemorySegment.copy(client, at - w.iova(), buffer, offset + done, chunk);
                        }
                    } catch (InternalError sigbus) {
                        // HotSpot's translation of SIGBUS: the client shrank the file behind the window.
                        throw new VfioException(Errno.EFAULT, "DMA window 0x%x: the memory behind it is gone (file truncated)"
                                .formatted(w.iova()), sigbus);
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
                MemorySegment part = buffer.asSlice(offset + done, chunk);
                if (toClient) {
                    t.write(at, part);
                } else {
                    t.read(at, part);
                }
            }
            if (toClient) {
                markDirty(at, chunk); // after the write: a report that sees the mark sees the data
            }
            done += chunk;
        }
    }

    @Override
    public java.util.Optional<MemorySegment> segment(long iova, long length, boolean forWrite) {
        if (faults.watchesDma()) {
            return java.util.Optional.empty(); // the device copies, and each copy meets the rules
        }
        lock.readLock().lock();
        try {
            Entry entry = floor(iova);
            if (entry == null || entry.mapping == null) {
                return java.util.Optional.empty();
            }
            DmaWindow w = entry.window;
            if (length < 0 || !w.contains(iova) || Long.compareUnsigned(length, w.size() - (iova - w.iova())) > 0
                    || (forWrite ? !w.writable() : !w.readable())) {
                return java.util.Optional.empty();
            }
            if (forWrite && length > 0) {
                int page = (int) (pageOf(iova) - pageOf(w.iova()));
                int pages = (int) (pageOf(iova + length - 1) - pageOf(iova)) + 1;
                synchronized (entry.lent) {
                    entry.lent.set(page, page + pages);
                }
                markDirty(iova, length);
            }
            return java.util.Optional.of(entry.mapping.segment().asSlice(iova - w.iova(), length));
        } finally {
            lock.readLock().unlock();
        }
    }

    private static long pageOf(long address) {
        return address >>> Long.numberOfTrailingZeros(DirtyLog.MIN_PAGE_SIZE);
    }

    private void markDirty(long iova, long length) {
        DirtyLog log = dirtyLog;
        if (log != null) {
            log.mark(iova, length);
        }
    }

    /**
     * DMA_LOGGING_START: logs writes to {@code ranges} ({iova, length} pairs), or to every window
     * (present and future) when there are none. Returns the page size logged at, which may be
     * larger than asked to keep the bitmaps small. EBUSY while already logging.
     */
    public long startDirtyLogging(long pageSize, List<long[]> ranges) throws VfioException {
        lock.writeLock().lock();
        try {
            if (dirtyLog != null) {
                throw new VfioException(Errno.EBUSY, "dirty logging is already on");
            }
            List<long[]> inclusive = new ArrayList<>();
            if (ranges.isEmpty()) {
                for (Entry e : windows.values()) {
                    inclusive.add(new long[] {e.window.iova(), e.window.last()});
                }
            } else {
                for (long[] r : ranges) {
                    inclusive.add(new long[] {r[0], r[0] + r[1] - 1});
                }
            }
            DirtyLog log = DirtyLog.start(pageSize, inclusive, ranges.isEmpty());
            dirtyLog = log;
            return log.pageSize();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** DMA_LOGGING_STOP: forgets every mark. */
    public void stopDirtyLogging() {
        dirtyLog = null;
    }

    public boolean isDirtyLogging() {
        return dirtyLog != null;
    }

    /**
     * DMA_LOGGING_REPORT: the pages of [iova, iova + length) written since the last report, one bit
     * per {@code pageSize} page (u64 words), and clears them. EINVAL when logging is off.
     */
    public long[] dirtyReport(long iova, long length, long pageSize) throws VfioException {
        DirtyLog log = dirtyLog;
        if (log == null) {
            throw VfioException.invalid("DMA_LOGGING_REPORT while dirty logging is off");
        }
        if (length == 0 || pageSize <= 0 || Long.bitCount(pageSize) != 1 || Long.compareUnsigned(iova + length - 1, iova) < 0) {
            throw VfioException.invalid("DMA_LOGGING_REPORT of [0x%x, +0x%x) at page size %d".formatted(iova, length, pageSize));
        }
        lock.readLock().lock();
        try {
            long last = iova + length - 1;
            for (Entry e : windows.values()) {
                DmaWindow w = e.window;
                if (Long.compareUnsigned(w.iova(), last) > 0 || Long.compareUnsigned(w.last(), iova) < 0) {
                    continue;
                }
                synchronized (e.lent) {
                    long base = pageOf(w.iova()) << Long.numberOfTrailingZeros(DirtyLog.MIN_PAGE_SIZE);
                    for (int p = e.lent.nextSetBit(0); p >= 0; p = e.lent.nextSetBit(p + 1)) {
                        log.mark(base + p * DirtyLog.MIN_PAGE_SIZE, DirtyLog.MIN_PAGE_SIZE);
                    }
                }
            }
        } finally {
            lock.readLock().unlock();
        }
        return log.reportAndClear(iova, length, pageSize);
    }

    private Entry overlapping(long iova, long size) {
        Entry floor = floor(iova + size - 1);
        if (floor != null && Long.compareUnsigned(floor.window.last(), iova) >= 0) {
            return floor;
        }
        return null;
    }

    /** The window with the greatest IOVA at or below {@code iova} (unsigned), or null; with the lock held. */
    private Entry floor(long iova) {
        Entry[] entries = byIova;
        int low = 0, high = entries.length - 1, found = -1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            if (Long.compareUnsigned(entries[mid].window.iova(), iova) <= 0) {
                found = mid;
                low = mid + 1;
            } else {
                high = mid - 1;
            }
        }
        return found < 0 ? null : entries[found];
    }

    private static VfioException fault(long iova, long length) {
        return new VfioException(Errno.EFAULT, "DMA access [0x%x, +0x%x) is outside the mapped windows".formatted(iova, length));
    }
}
