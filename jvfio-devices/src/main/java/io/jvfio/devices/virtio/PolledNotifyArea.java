package io.jvfio.devices.virtio;

import io.jvfio.devices.PolledPage;
import io.jvfio.server.RegionSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.function.IntConsumer;

/**
 * The notify area of {@link NotifyMode#POLLED}: one page of its BAR that the client maps (a
 * {@link PolledPage}: a SPARSE_MMAP area; the rest of the BAR stays trapped), a dword per queue,
 * watched by a polling thread that hands each notification to the device. Trapped writes to the
 * page (a client that does not map it) go to the BAR's handler, not here.
 */
final class PolledNotifyArea implements AutoCloseable {
    /** What a queue's dword holds until the driver writes the queue's index there. */
    private static final int IDLE = 0xffff_ffff;

    private final int queueCount;
    private final int multiplier;
    private final IntConsumer kick;
    private final PolledPage page;

    /**
     * @param queueCount queues with a dword each
     * @param multiplier bytes from one queue's dword to the next
     * @param barOffset  where the page starts in its BAR (page-aligned)
     * @param kick       tells the device that a queue was notified
     */
    PolledNotifyArea(int queueCount, int multiplier, long barOffset, long pageSize, IntConsumer kick) {
        this.queueCount = queueCount;
        this.multiplier = multiplier;
        this.kick = kick;
        this.page = new PolledPage("virtio-notify", barOffset, pageSize);
        clear();
    }

    /** How the BAR's region info offers the page: the memfd, with the page as its only mappable area. */
    RegionSpec.Mmap mmap() {
        return page.mmap();
    }

    /** Notifications taken from the mapped page so far. */
    long notifications() {
        return page.taken();
    }

    /** Every queue idle: notifications of before a reset or a migration are forgotten. */
    void clear() {
        page.segment().fill((byte) 0xff);
    }

    /** Starts the polling thread, once. Under the device's lock. */
    void startPolling(String threadName) {
        page.startPolling(threadName, this::scan);
    }

    /**
     * One look at every queue's dword: resetting it before waking the queue's worker loses no
     * notification, as the worker drains the ring after the reset. Returns how many were notified.
     */
    private int scan() {
        MemorySegment segment = page.segment();
        int notified = 0;
        for (int i = 0; i < queueCount; i++) {
            long at = (long) i * multiplier;
            if (segment.get(ValueLayout.JAVA_INT_UNALIGNED, at) != IDLE) {
                segment.set(ValueLayout.JAVA_INT_UNALIGNED, at, IDLE);
                VarHandle.fullFence();
                kick.accept(i);
                notified++;
            }
        }
        return notified;
    }

    /** Stops the poller (waiting up to a second for it) and releases the page. */
    @Override
    public void close() {
        page.close();
    }
}
