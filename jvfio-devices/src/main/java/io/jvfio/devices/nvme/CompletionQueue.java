package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A completion queue in host memory (§4.6): the controller owns the tail and the phase tag (1 on
 * the first pass, flipped at every wrap), the host moves the head with its doorbell. A full queue
 * (tail + 1 == head) is never overrun: a poster waits for the host to consume entries, or for the
 * queue (or its submission queue) to go away, in which case the completion is dropped.
 *
 * <p>Each entry is written in two steps, the body before the dword holding CID, status and phase,
 * so a host that sees the new phase sees the whole entry. Posting is serialised by the queue's
 * monitor, so several submission queues may share one completion queue. The session thread
 * (doorbells, teardown) never takes that monitor: a poster holds it while its DMA_WRITE waits for
 * a reply that only the session thread can receive. It uses {@link #room} instead, a monitor no
 * one holds while doing DMA.
 *
 * <p>With a shadow doorbell ({@link #useShadow}) the host stores its head in host memory and rings
 * only past the EventIdx published here: a poster that finds the queue full reads the shadow head,
 * publishes EventIdx and waits (with a timeout, reading the slot again). When the queue's
 * interrupt is INTx, whose level follows the head, EventIdx stays at the last entry posted so the
 * host rings once it has consumed everything.
 */
final class CompletionQueue {
    /** How long a poster waits for room before it reads the shadow (or polled) head again. */
    private static final long SHADOW_WAIT_MILLIS = 1;

    final int id;
    final long base;
    /** Entries (QSIZE + 1). */
    final int size;
    final boolean interruptsEnabled;
    final int vector;

    private final MemorySegment entry = MemorySegment.ofArray(new long[CQE_SIZE / Long.BYTES]);
    /** The entry's two parts, written in this order: everything before CID, then CID and status. */
    private final MemorySegment body = entry.asSlice(0, CQE_CID), tailDword = entry.asSlice(CQE_CID, CQE_SIZE - CQE_CID);
    /** Posters wait on it for the host to free an entry; the doorbell and teardown notify it. */
    private final Object room = new Object();
    /** Submission queues attached; a queue still used cannot be deleted. */
    private final AtomicInteger users = new AtomicInteger();
    // Written by the poster (tail) and by the session thread (head); read by both without a lock.
    private volatile int tail;
    private volatile int head;
    private volatile boolean live = true;
    /** The head's shadow slot once the host configured shadow doorbells; used under this queue's monitor. */
    private volatile ShadowDoorbell shadowHead;
    /** Publish EventIdx at every entry posted (an INTx queue: the level needs the head). */
    private volatile boolean eventIdxPerEntry;
    /** The phase tag of the next entry; written by posters under this queue's monitor, read by a migration's save. */
    private volatile boolean phase = true;
    // Guarded by this queue's monitor (the posters').
    /** Entries posted since the last interrupt. */
    private boolean unsignalled;

    CompletionQueue(int id, long base, int size, boolean interruptsEnabled, int vector) {
        this.id = id;
        this.base = base;
        this.size = size;
        this.interruptsEnabled = interruptsEnabled;
        this.vector = vector;
    }

    /**
     * Posts one completion; waits while the queue is full. Returns false when the entry was
     * dropped (the queue or {@code from} was deleted meanwhile) or, the queue full, given back to
     * a paused {@code from} ({@link SubmissionQueue#yieldsWhenFull}). Throws when host memory cannot
     * be written: the controller is then in fatal state.
     */
    boolean post(DmaView dma, SubmissionQueue from, Command command, Runnable beforeWaiting)
            throws VfioException, InterruptedException {
        synchronized (this) {
            while (live && from.isLive() && (tail + 1) % size == head) {
                if (shadowHead != null && shadowHeadMoved(dma) || from.polledHeadMoved()) {
                    continue;
                }
                if (from.yieldsWhenFull()) {
                    return false;   // paused by a migration: the host's head doorbell cannot come until it runs again
                }
                if (unsignalled) {
                    // The host may be waiting for an interrupt to drain the queue: give it one first.
                    beforeWaiting.run();
                }
                synchronized (room) {
                    if (live && from.isLive() && !from.yieldsWhenFull() && (tail + 1) % size == head) {
                        // A shadow or polled head is read here, not rung: look again soon.
                        room.wait(shadowHead != null || from.pollsDoorbells() ? SHADOW_WAIT_MILLIS : 0);
                    }
                }
            }
            if (!live || !from.isLive()) {
                return false;
            }
            entry.set(ValueLayout.JAVA_INT, CQE_DW0, command.result);
            entry.set(ValueLayout.JAVA_INT, CQE_DW1, 0);
            entry.set(ValueLayout.JAVA_SHORT, CQE_SQHD, (short) from.head());
            entry.set(ValueLayout.JAVA_SHORT, CQE_SQID, (short) from.id);
            entry.set(ValueLayout.JAVA_SHORT, CQE_CID, (short) command.cid());
            entry.set(ValueLayout.JAVA_SHORT, CQE_STATUS, (short) (command.status << 1 | (phase ? 1 : 0)));
            if (command.corruptedField != null) {
                corrupt(command.corruptedField, from);
            }
            int at = tail;
            long address = base + (long) at * CQE_SIZE;
            dma.write(address, body);
            VarHandle.storeStoreFence();
            dma.write(address + CQE_CID, tailDword);
            if (command.corruptedField == NvmeFaultAction.CompletionField.PHASE) {
                return true;   // the host takes the entry for an old one: the slot stays the next completion's
            }
            if (at + 1 == size) {
                phase = !phase;
            }
            tail = at + 1 == size ? 0 : at + 1;
            unsignalled = true;
            ShadowDoorbell shadow = shadowHead;
            if (shadow != null && eventIdxPerEntry) {
                shadow.publishEventIdx(dma, at);
            }
            return true;
        }
    }

    /** An injected fault: spoils {@code field} of the entry being posted for {@code from}. Under the monitor. */
    private void corrupt(NvmeFaultAction.CompletionField field, SubmissionQueue from) {
        switch (field) {
            case COMMAND_ID -> entry.set(ValueLayout.JAVA_SHORT, CQE_CID,
                    (short) (entry.get(ValueLayout.JAVA_SHORT, CQE_CID) ^ 0x8000));
            case PHASE -> entry.set(ValueLayout.JAVA_SHORT, CQE_STATUS,
                    (short) (entry.get(ValueLayout.JAVA_SHORT, CQE_STATUS) ^ 1));
            case SQ_HEAD -> entry.set(ValueLayout.JAVA_SHORT, CQE_SQHD, (short) from.size);
            case SQ_ID -> entry.set(ValueLayout.JAVA_SHORT, CQE_SQID, (short) (from.id == 0 ? 1 : 0));
        }
    }

    /** Doorbell Buffer Config: the head is also found in {@code slot}; {@code intx}: the queue interrupts by INTx. */
    void useShadow(ShadowDoorbell slot, boolean intx) {
        eventIdxPerEntry = intx && interruptsEnabled;
        shadowHead = slot;
    }

    /**
     * A full queue: takes the host's shadow head; if it is the head already, publishes EventIdx and
     * looks once more. Under the monitor. The slot is compared with the head, not with the value
     * read last time: the head also moves by trapped doorbells, and the host's head may have come
     * round to the old value (Linux rings a completion queue seldom — with EventIdx 0, only as its
     * head passes slot 0 — so after one lap of entries it had consumed everything, its shadow head
     * was the one read at Doorbell Buffer Config, and the queue stayed full until Linux's timeout).
     */
    private boolean shadowHeadMoved(DmaView dma) throws VfioException {
        ShadowDoorbell shadow = shadowHead;
        int value = shadow.value(dma);
        if (value != head && moveHead(value)) {
            return true;
        }
        shadow.publishEventIdx(dma, head);
        value = shadow.value(dma);
        return value != head && moveHead(value);
    }

    int head() {
        return head;
    }

    int tail() {
        return tail;
    }

    boolean phase() {
        return phase;
    }

    /** The head's shadow slot, or null while the queue has none. */
    ShadowDoorbell shadowHead() {
        return shadowHead;
    }

    /** Whether EventIdx follows every entry posted (the queue interrupts by INTx). */
    boolean eventIdxPerEntry() {
        return eventIdxPerEntry;
    }

    /** A migration's destination: the queue goes on where the source's stopped. Before any poster uses it. */
    synchronized void restore(int head, int tail, boolean phase) {
        this.head = head;
        this.tail = tail;
        this.phase = phase;
    }

    /** Whether entries were posted since the last call (and the host should be interrupted). Posters only. */
    synchronized boolean takeUnsignalled() {
        boolean was = unsignalled;
        unsignalled = false;
        return was;
    }

    /**
     * The host's CQ head doorbell (session thread, no lock held by a poster); false (and ignored)
     * when {@code value} is not a slot the host may release: beyond the queue, or past the tail.
     */
    boolean moveHead(int value) {
        if (value >= size) {
            return false;
        }
        int posted = Math.floorMod(tail - head, size), consumed = Math.floorMod(value - head, size);
        if (consumed > posted) {
            return false;
        }
        head = value;
        synchronized (room) {
            room.notifyAll();
        }
        return true;
    }

    /** Entries posted and not yet consumed by the host. */
    boolean hasPending() {
        return head != tail;
    }

    void attach() {
        users.incrementAndGet();
    }

    void detach() {
        users.decrementAndGet();
    }

    boolean inUse() {
        return users.get() > 0;
    }

    /** Deleted or torn down: posters stop waiting and post nothing more (one already writing finishes its entry). */
    void kill() {
        live = false;
        wakePosters();
    }

    /** Wakes posters waiting for room so they notice a deleted queue. */
    void wakePosters() {
        synchronized (room) {
            room.notifyAll();
        }
    }
}
