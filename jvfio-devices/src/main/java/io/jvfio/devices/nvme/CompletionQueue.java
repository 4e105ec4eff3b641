package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A completion queue in host memory (§4.6): the controller owns the tail and the phase tag (1 on
 * the first pass, flipped at every wrap), the host moves the head with its doorbell. A full queue
 * (tail + 1 == head) is never overrun: a poster waits for the host to consume entries, or for the
 * queue (or its submission queue) to go away, in which case the completion is dropped.
 *
 * <p>Each entry is written in two steps, the body before the dword holding CID, status and phase,
 * so a host that sees the new phase sees the whole entry. Posting is serialised by the queue's
 * monitor, so several submission queues may share one completion queue.
 */
final class CompletionQueue {
    final int id;
    final long base;
    /** Entries (QSIZE + 1). */
    final int size;
    final boolean interruptsEnabled;
    final int vector;

    private final MemorySegment entry = MemorySegment.ofArray(new long[CQE_SIZE / Long.BYTES]);
    // Volatile for hasPending(), which the INTx level reads without taking this queue's monitor.
    private volatile int tail;
    private volatile int head;
    private boolean phase = true;
    /** Entries posted since the last interrupt. */
    private boolean unsignalled;
    /** Submission queues attached; a queue still used cannot be deleted. */
    private int users;
    private volatile boolean live = true;

    CompletionQueue(int id, long base, int size, boolean interruptsEnabled, int vector) {
        this.id = id;
        this.base = base;
        this.size = size;
        this.interruptsEnabled = interruptsEnabled;
        this.vector = vector;
    }

    /**
     * Posts one completion; waits while the queue is full. Returns false when the entry was
     * dropped (the queue or {@code from} was deleted meanwhile). Throws when host memory cannot
     * be written: the controller is then in fatal state.
     */
    boolean post(DmaView dma, SubmissionQueue from, Command command, Runnable beforeWaiting)
            throws VfioException, InterruptedException {
        synchronized (this) {
            while (live && from.isLive() && (tail + 1) % size == head) {
                if (unsignalled) {
                    // The host may be waiting for an interrupt to drain the queue: give it one first.
                    beforeWaiting.run();
                }
                wait();
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
            long at = base + (long) tail * CQE_SIZE;
            dma.write(at, entry.asSlice(0, CQE_CID));
            VarHandle.storeStoreFence();
            dma.write(at + CQE_CID, entry.asSlice(CQE_CID, CQE_SIZE - CQE_CID));
            tail++;
            if (tail == size) {
                tail = 0;
                phase = !phase;
            }
            unsignalled = true;
            return true;
        }
    }

    /** Whether entries were posted since the last call (and the host should be interrupted). */
    synchronized boolean takeUnsignalled() {
        boolean was = unsignalled;
        unsignalled = false;
        return was;
    }

    /** The host's CQ head doorbell; false (and ignored) when {@code value} is not a slot the host may release. */
    synchronized boolean moveHead(int value) {
        if (value >= size || !inFlight(value)) {
            return false;
        }
        head = value;
        notifyAll();
        return true;
    }

    /** Whether {@code value} lies in (head, tail], i.e. consumes only posted entries (head itself: no change). */
    private boolean inFlight(int value) {
        int posted = Math.floorMod(tail - head, size);
        int consumed = Math.floorMod(value - head, size);
        return consumed <= posted;
    }

    /** Entries posted and not yet consumed by the host. */
    boolean hasPending() {
        return head != tail;
    }

    synchronized void attach() {
        users++;
    }

    synchronized void detach() {
        users--;
        notifyAll();
    }

    synchronized boolean inUse() {
        return users > 0;
    }

    /** Deleted or torn down: posters stop waiting, nothing more is written to host memory. */
    synchronized void kill() {
        live = false;
        notifyAll();
    }

    /** Wakes posters waiting for room so they notice a deleted submission queue. */
    synchronized void wakePosters() {
        notifyAll();
    }
}
