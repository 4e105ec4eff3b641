package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.DOORBELLS;
import static io.jvfio.nvme.spec.Nvme.DOORBELL_STRIDE;

import io.jvfio.devices.PolledPage;
import io.jvfio.server.RegionSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;

/**
 * The doorbell page in polled mode: BAR 0's 0x1000..0x1fff offered as the BAR's only SPARSE_MMAP
 * area ({@link PolledPage}), so the client maps it (into the guest) and rings by plain stores, with
 * no message; a polling thread watches every queue's dword (SQ tails and CQ heads, stride 4) and
 * hands each new value to the controller as a doorbell. The rest of BAR 0 stays trapped, and so
 * do writes to the page from a client that does not map it (they go to the BAR's handler).
 *
 * <p>Only a change of a dword is news: a queue's dword is cleared to 0 when the queue is created
 * (the host rings it only after that), so a first tail equal to a deleted queue's last one is seen;
 * a migration's destination sets it to the tail or head the queue was restored with. The poller
 * holds this object's monitor while it hands values on (no DMA happens there).
 */
final class PolledDoorbellPage implements AutoCloseable {
    static final long PAGE_SIZE = 0x1000;

    /** Where a new value goes: the controller's doorbell for {@code slot} (2·qid tail, 2·qid + 1 head). */
    interface Ring {
        void ring(int slot, int value);
    }

    private final int slots;
    private final Ring ring;
    /** A bug in handing a value on: the controller reports a fatal status, the poller stops (trapped writes still ring). */
    private final Consumer<RuntimeException> failed;
    private final PolledPage page;
    /** The value last handed on, per slot; guarded by this object's monitor. */
    private final int[] lastSeen;
    private volatile boolean broken;

    PolledDoorbellPage(int queues, Ring ring, Consumer<RuntimeException> failed) {
        this.slots = 2 * queues;
        this.ring = ring;
        this.failed = failed;
        this.lastSeen = new int[slots];
        this.page = new PolledPage("nvme-doorbells", DOORBELLS, PAGE_SIZE);
    }

    /** How BAR 0's region info offers the page: the memfd, with the page as its only mappable area. */
    RegionSpec.Mmap mmap() {
        return page.mmap();
    }

    /** Doorbell values the poller took from the mapped page so far. */
    long doorbells() {
        return page.taken();
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
    void startPolling(String threadName) {
        page.startPolling(threadName, this::poll);
    }

    private int poll() {
        if (broken) {
            return 0;
        }
        try {
            return scan();
        } catch (RuntimeException e) {
            broken = true;
            failed.accept(e);
            return 0;
        }
    }

    /**
     * One look at every slot, handing on what changed; returns how many did. The poller's loop,
     * and a migration's stop, so that a store made just before it is in the saved tails.
     */
    synchronized int scan() {
        MemorySegment segment = page.segment();
        int changed = 0;
        for (int slot = 0; slot < slots; slot++) {
            int value = segment.get(ValueLayout.JAVA_INT, (long) slot * DOORBELL_STRIDE);
            if (value != lastSeen[slot]) {
                lastSeen[slot] = value;
                ring.ring(slot, value);
                changed++;
            }
        }
        return changed;
    }

    /** Stops the poller and releases the page. */
    @Override
    public void close() {
        page.close();
    }
}
