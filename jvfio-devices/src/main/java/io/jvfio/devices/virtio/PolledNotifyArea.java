package io.jvfio.devices.virtio;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.server.RegionHandler;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The notify area of {@link NotifyMode#POLLED}: one page of a memfd that the client maps whole, a
 * dword per queue, watched by a polling thread that hands each notification to the device. As the
 * BAR's region handler it also takes trapped writes, from a client that does not map the page.
 */
final class PolledNotifyArea implements RegionHandler, AutoCloseable {
    /** What a queue's dword holds until the driver writes the queue's index there. */
    private static final int IDLE = 0xffff_ffff;

    private final int queueCount;
    private final int multiplier;
    private final IntConsumer kick;
    private final Fd fd;
    private final Mapping page;
    private volatile Thread poller;
    private volatile boolean closed;

    /**
     * @param queueCount queues with a dword each
     * @param multiplier bytes from one queue's dword to the next
     * @param kick       tells the device that a queue was notified
     */
    PolledNotifyArea(int queueCount, int multiplier, long pageSize, IntConsumer kick) {
        this.queueCount = queueCount;
        this.multiplier = multiplier;
        this.kick = kick;
        try {
            fd = Memfd.create("virtio-notify", pageSize);
            page = Mapping.map(fd, 0, pageSize, true);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot create the notify page: " + e.getMessage(), e);
        }
        clear();
    }

    /** The memfd the client maps. */
    Fd fd() {
        return fd;
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

    @Override
    public void read(long offset, MemorySegment dst) {
        dst.fill((byte) 0);
    }

    @Override
    public void write(long offset, MemorySegment src) {
        if (offset < (long) queueCount * multiplier) {
            kick.accept((int) (offset / multiplier));
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
