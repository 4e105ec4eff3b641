package io.jvfio.devices;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.server.RegionSpec;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;

/**
 * One page of a BAR that a client maps (the BAR's only SPARSE_MMAP area; the rest stays trapped)
 * and a thread that polls it: what virtio's polled notify page and NVMe's polled doorbell page are
 * made of. The page lives in a memfd that stands for the BAR from its start, so the page is at its
 * own BAR offset in the file, as a client maps it; only that page is ever mapped or touched.
 * Trapped writes to the page (a client that does not map it) go to the BAR's handler, not here.
 */
public final class PolledPage implements AutoCloseable {
    /** Spins after work before the poller starts to sleep. */
    private static final int SPIN_ROUNDS = 20_000;
    /** Short sleeps before the long ones, by default: about six seconds of them. */
    private static final int DEFAULT_SHORT_SLEEPS = 80_000;
    private static final long SHORT_SLEEP_NANOS = 20_000, LONG_SLEEP_NANOS = 1_000_000;

    private final long barOffset;
    private final long pageSize;
    /** Scans without news after which the poller sleeps long (spins, then short sleeps). */
    private final int longSleepAfter;
    private final Fd fd;
    private final Mapping page;
    /** What the scans took so far; only the poller writes it. */
    private final AtomicLong taken = new AtomicLong();
    private volatile Thread poller;
    private volatile boolean closed;

    /** Page [{@code barOffset}, +{@code pageSize}) of a BAR (page-aligned), in a memfd named {@code name}. */
    public PolledPage(String name, long barOffset, long pageSize) {
        this(name, barOffset, pageSize, DEFAULT_SHORT_SLEEPS);
    }

    /**
     * The same, with {@code shortSleeps} 20 µs sleeps between the poller's spinning and its 1 ms
     * sleeps: few where others poll the busy part of the page (each short sleep's wake-up takes
     * the CPU from whoever spins there).
     */
    public PolledPage(String name, long barOffset, long pageSize, int shortSleeps) {
        this.barOffset = barOffset;
        this.pageSize = pageSize;
        this.longSleepAfter = SPIN_ROUNDS + shortSleeps;
        try {
            fd = Memfd.create(name, barOffset + pageSize);
            page = Mapping.map(fd, barOffset, pageSize, true);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot create the " + name + " page: " + e.getMessage(), e);
        }
    }

    /** The device's view of the page: what the client stores there, it reads here. */
    public MemorySegment segment() {
        return page.segment();
    }

    /** How the BAR's region info offers the page: the memfd, with the page as its only mappable area. */
    public RegionSpec.Mmap mmap() {
        return new RegionSpec.Mmap(fd, 0, List.of(new RegionSpec.SparseArea(barOffset, pageSize)));
    }

    /** Notifications or doorbells the poller's scans took so far. */
    public long taken() {
        return taken.get();
    }

    /**
     * Starts the polling thread, once: it calls {@code scan} (which returns how many notifications
     * it took) until {@link #close}, spinning after work and sleeping 20 µs, later 1 ms, between
     * looks while idle.
     */
    public synchronized void startPolling(String threadName, IntSupplier scan) {
        if (poller == null && !closed) {
            poller = Thread.ofPlatform().daemon().name(threadName).start(() -> poll(scan));
        }
    }

    private void poll(IntSupplier scan) {
        int idleRounds = 0;
        while (!closed) {
            int took = scan.getAsInt();
            if (took > 0) {
                taken.lazySet(taken.get() + took);
                idleRounds = 0;
            } else if (++idleRounds < SPIN_ROUNDS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(idleRounds < longSleepAfter ? SHORT_SLEEP_NANOS : LONG_SLEEP_NANOS);
            }
        }
    }

    /** Stops the poller (waiting up to a second for it) and releases the page. */
    @Override
    public void close() {
        closed = true;
        Thread p = poller;
        if (p != null) {
            try {
                p.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        page.close();
        fd.close();
    }
}
