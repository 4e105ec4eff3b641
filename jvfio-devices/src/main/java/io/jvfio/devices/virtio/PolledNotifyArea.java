package io.jvfio.devices.virtio;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.server.RegionSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The notify area of {@link NotifyMode#POLLED}: one page of its BAR that the client maps (a
 * SPARSE_MMAP area; the rest of the BAR stays trapped), a dword per queue, watched by a polling
 * thread that hands each notification to the device. The page lives in a memfd that stands for
 * the BAR from its start, so the page is at its own BAR offset in the file, as a client maps it.
 * Trapped writes to the page (a client that does not map it) go to the BAR's handler, not here.
 */
final class PolledNotifyArea implements AutoCloseable {
    /** What a queue's dword holds until the driver writes the queue's index there. */
    private static final int IDLE = 0xffff_ffff;

    private final int queueCount;
    private final int multiplier;
    private final long barOffset;
    private final long pageSize;
    private final IntConsumer kick;
    private final Fd fd;
    private final Mapping page;
    /** Notifications the poller took; only the poller writes it. */
    private final AtomicLong taken = new AtomicLong();
    private volatile Thread poller;
    private volatile boolean closed;

    /**
     * @param queueCount queues with a dword each
     * @param multiplier bytes from one queue's dword to the next
     * @param barOffset  where the page starts in its BAR (page-aligned)
     * @param kick       tells the device that a queue was notified
     */
    PolledNotifyArea(int queueCount, int multiplier, long barOffset, long pageSize, IntConsumer kick) {
        this.queueCount = queueCount;
        this.multiplier = multiplier;
        this.barOffset = barOffset;
        this.pageSize = pageSize;
        this.kick = kick;
        try {
            // Only the notify page of the file is ever mapped or touched; the pages before it hold nothing.
            fd = Memfd.create("virtio-notify", barOffset + pageSize);
            page = Mapping.map(fd, barOffset, pageSize, true);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot create the notify page: " + e.getMessage(), e);
        }
        clear();
    }

    /** How the BAR's region info offers the page: the memfd, with the page as its only mappable area. */
    RegionSpec.Mmap mmap() {
        return new RegionSpec.Mmap(fd, 0, List.of(new RegionSpec.SparseArea(barOffset, pageSize)));
    }

    /** Notifications taken from the mapped page so far. */
    long notifications() {
        return taken.get();
    }

    /** Every queue idle: notifications of before a reset or a migration are forgotten. */
    void clear() {
        page.segment().fill((byte) 0xff);
    }

    /** Starts the polling thread, once. Under the device's lock. */
    void startPolling(String threadName) {
        if (poller == null) {
            poller = Thread.ofPlatform().daemon().name(threadName).start(this::poll);
        }
    }

    /**
     * Polls the page: resetting a queue's dword before waking its worker loses no notification,
     * as the worker drains the ring after the reset.
     */
    private void poll() {
        MemorySegment segment = page.segment();
        int idleRounds = 0;
        while (!closed) {
            boolean any = false;
            for (int i = 0; i < queueCount; i++) {
                long at = (long) i * multiplier;
                if (segment.get(ValueLayout.JAVA_INT_UNALIGNED, at) != IDLE) {
                    segment.set(ValueLayout.JAVA_INT_UNALIGNED, at, IDLE);
                    VarHandle.fullFence();
                    kick.accept(i);
                    taken.lazySet(taken.get() + 1);
                    any = true;
                }
            }
            if (any) {
                idleRounds = 0;
            } else if (++idleRounds < 20_000) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(idleRounds < 100_000 ? 20_000 : 1_000_000);
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
