package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.DOORBELLS;
import static io.jvfio.nvme.spec.Nvme.DOORBELL_STRIDE;

import io.jvfio.devices.PolledPage;
import io.jvfio.server.RegionSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicIntegerArray;
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
 *
 * <p>An I/O queue's worker, while it is awake, looks at its own slots itself ({@link Owner}: its
 * SQ tail and its CQ's head) and the poller skips them: the new tail reaches the worker without a
 * thread hand-off (an unpark per batch), and the poller, left with the admin queue, idles instead
 * of taking a CPU of its own. Values go through the same {@link #lastSeen} under the same monitor,
 * so whichever side looks first hands a store on, once; a worker that goes to sleep gives its
 * slots back to the poller.
 */
final class PolledDoorbellPage implements AutoCloseable {
    static final long PAGE_SIZE = 0x1000;
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    /**
     * The poller's 20 µs sleeps before its 1 ms ones (a few ms of them, not PolledPage's seconds): the
     * I/O queues' workers poll their own slots, and on a 2-CPU machine every short sleep's wake-up
     * preempted the worker spinning on the same CPU (QD128 ran at a tenth of its speed for ~6 s).
     */
    private static final int POLLER_SHORT_SLEEPS = 200;

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
    /** How many awake queue workers look at each slot themselves; the poller skips a slot while it is above 0. */
    private final AtomicIntegerArray owners;
    /** Values owners handed on; written under this object's monitor. */
    private volatile long takenByOwners;
    private volatile boolean broken;

    /** A queue worker's own look at one slot (not thread-safe: the worker's alone). */
    final class Owner {
        private final int slot;
        private boolean owning;

        private Owner(int slot) {
            this.slot = slot;
        }

        /** From now on the poller leaves the slot to this owner (and to any other owner of it). */
        void own() {
            if (!owning) {
                owning = true;
                owners.incrementAndGet(slot);
            }
        }

        /** The poller looks at the slot again; a store not yet taken is news to it. */
        void release() {
            if (owning) {
                owning = false;
                owners.decrementAndGet(slot);
            }
        }

        /** Hands a changed value on, as the poller would; true when there was one. */
        boolean take() {
            return PolledDoorbellPage.this.take(slot);
        }
    }

    PolledDoorbellPage(int queues, Ring ring, Consumer<RuntimeException> failed) {
        this.slots = 2 * queues;
        this.ring = ring;
        this.failed = failed;
        this.lastSeen = new int[slots];
        this.owners = new AtomicIntegerArray(slots);
        this.page = new PolledPage("nvme-doorbells", DOORBELLS, PAGE_SIZE, POLLER_SHORT_SLEEPS);
    }

    /** How BAR 0's region info offers the page: the memfd, with the page as its only mappable area. */
    RegionSpec.Mmap mmap() {
        return page.mmap();
    }

    /** Doorbell values taken from the mapped page so far, by the poller and by the queues' workers. */
    long doorbells() {
        return page.taken() + takenByOwners;
    }

    /** The page as the device maps it (tests store the host's values here). */
    MemorySegment segment() {
        return page.segment();
    }

    /**
     * The queue of {@code slot} is created (with {@code value} 0) or restored by a migration (with
     * the tail or head it had): its dword holds {@code value}, and only a later, other store is news.
     */
    synchronized void reset(int slot, int value) {
        page.segment().set(ValueLayout.JAVA_INT, (long) slot * DOORBELL_STRIDE, value);
        lastSeen[slot] = value;
    }

    /** A queue worker's look at {@code slot} (2·qid tail, 2·qid + 1 head). */
    Owner owner(int slot) {
        return new Owner(slot);
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
            return scanUnowned();
        } catch (RuntimeException e) {
            broken = true;
            failed.accept(e);
            return 0;
        }
    }

    /**
     * One look at every slot, handing on what changed; returns how many did. A migration's stop,
     * so that a store made just before it is in the saved tails (owned slots too).
     */
    int scan() {
        return scan(true);
    }

    /** The poller's look: it skips the slots their queues' workers look at themselves. */
    int scanUnowned() {
        return scan(false);
    }

    private synchronized int scan(boolean owned) {
        MemorySegment segment = page.segment();
        int changed = 0;
        for (int slot = 0; slot < slots; slot++) {
            if (!owned && owners.get(slot) > 0) {
                continue;
            }
            int value = segment.get(ValueLayout.JAVA_INT, (long) slot * DOORBELL_STRIDE);
            if (value != lastSeen[slot]) {
                lastSeen[slot] = value;
                ring.ring(slot, value);
                changed++;
            }
        }
        return changed;
    }

    /** An owner's look at {@code slot}: the value read without the monitor, which is taken only for a change. */
    private boolean take(int slot) {
        long at = (long) slot * DOORBELL_STRIDE;
        if ((int) INT.getAcquire(page.segment(), at) == lastSeen[slot]) {
            return false;   // lastSeen read without the monitor: a stale value only costs taking it
        }
        synchronized (this) {
            int value = (int) INT.getAcquire(page.segment(), at);
            if (value == lastSeen[slot]) {
                return false;
            }
            lastSeen[slot] = value;
            takenByOwners++;   // under the monitor: the only writer
            ring.ring(slot, value);
            return true;
        }
    }

    /** Stops the poller and releases the page. */
    @Override
    public void close() {
        page.close();
    }
}
