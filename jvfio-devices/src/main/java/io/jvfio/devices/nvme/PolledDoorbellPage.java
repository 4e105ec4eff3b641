package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.Nvme.DOORBELLS;
import static io.jvfio.devices.nvme.Nvme.DOORBELL_STRIDE;

import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.server.RegionSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The doorbell page in polled mode: BAR 0's 0x1000..0x1fff offered as the BAR's only SPARSE_MMAP
 * area, so the client maps it (into the guest) and rings by plain stores, with no message; a
 * polling thread watches every queue's dword (SQ tails and CQ heads, stride 4) and hands each new
 * value to the controller as a doorbell. The rest of BAR 0 stays trapped, and so do writes to the
 * page from a client that does not map it (they go to the BAR's handler, not here). The page
 * lives in a memfd that stands for the BAR from its start, so it is at its own BAR offset in the
 * file, as a client maps it.
 *
 * <p>Only a change of a dword is news: a queue's dword is cleared to 0 when the queue is created
 * (the host rings it only after that), so a first tail equal to a deleted queue's last one is seen;
 * a migration's destination sets it to the tail or head the queue was restored with.
 * The poller holds this object's monitor while it hands values on (no DMA happens there).
 */
final class PolledDoorbellPage implements AutoCloseable {
    static final long PAGE_SIZE = 0x1000;
    /** Spins before the poller starts to sleep between looks; short sleeps until the long ones. */
    private static final int SPIN_ROUNDS = 20_000, SHORT_SLEEP_ROUNDS = 100_000;
    private static final long SHORT_SLEEP_NANOS = 20_000, LONG_SLEEP_NANOS = 1_000_000;

    /** Where a new value goes: the controller's doorbell for {@code slot} (2·qid tail, 2·qid + 1 head). */
    interface Ring {
        void ring(int slot, int value);
    }

    private final int slots;
    private final Ring ring;
    /** A bug in handing a value on: the controller reports a fatal status, the poller stops (trapped writes still ring). */
    private final Consumer<RuntimeException> failed;
    private final Fd fd;
    private final Mapping page;
    /** The value last handed on, per slot; only the poller reads it, {@link #forget} writes it under the page's monitor. */
    private final int[] lastSeen;
    /** Values taken from the mapped page so far. */
    private final AtomicLong taken = new AtomicLong();
    private volatile Thread poller;
    private volatile boolean closed;

    PolledDoorbellPage(int queues, Ring ring, Consumer<RuntimeException> failed) {
        this.slots = 2 * queues;
        this.ring = ring;
        this.failed = failed;
        this.lastSeen = new int[slots];
        try {
            // Only the doorbell page of the file is ever mapped or touched; the registers before it hold nothing.
            fd = Memfd.create("nvme-doorbells", DOORBELLS + PAGE_SIZE);
            page = Mapping.map(fd, DOORBELLS, PAGE_SIZE, true);
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot create the doorbell page: " + e.getMessage(), e);
        }
    }

    /** How BAR 0's region info offers the page: the memfd, with the page as its only mappable area. */
    RegionSpec.Mmap mmap() {
        return new RegionSpec.Mmap(fd, 0, List.of(new RegionSpec.SparseArea(DOORBELLS, PAGE_SIZE)));
    }

    /** Doorbell values taken from the mapped page so far. */
    long doorbells() {
        return taken.get();
    }

    /**
     * The queue of {@code slot} is created (with {@code value} 0) or restored by a migration (with
     * the tail or head it had): its dword holds {@code value}, and only a later, other store is news.
     */
    synchronized void reset(int slot, int value) {
        page.segment().set(ValueLayout.JAVA_INT, (long) slot * DOORBELL_STRIDE, value);
        lastSeen[slot] = value;
    }

    /** Starts the polling thread, once. */
    synchronized void startPolling(String threadName) {
        if (poller == null && !closed) {
            poller = Thread.ofPlatform().daemon().name(threadName).start(this::poll);
        }
    }

    private void poll() {
        int idleRounds = 0;
        while (!closed) {
            boolean rang;
            try {
                rang = scan();
            } catch (RuntimeException e) {
                failed.accept(e);
                return;
            }
            if (rang) {
                idleRounds = 0;
            } else if (++idleRounds < SPIN_ROUNDS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(idleRounds < SHORT_SLEEP_ROUNDS ? SHORT_SLEEP_NANOS : LONG_SLEEP_NANOS);
            }
        }
    }

    /**
     * One look at every slot, handing on what changed; true if something did. The poller's loop,
     * and a migration's stop, so that a store made just before it is in the saved tails.
     */
    synchronized boolean scan() {
        MemorySegment segment = page.segment();
        boolean any = false;
        for (int slot = 0; slot < slots; slot++) {
            int value = segment.get(ValueLayout.JAVA_INT, (long) slot * DOORBELL_STRIDE);
            if (value != lastSeen[slot]) {
                lastSeen[slot] = value;
                ring.ring(slot, value);
                taken.lazySet(taken.get() + 1);
                any = true;
            }
        }
        return any;
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
