package io.jvfio.nvme;

import java.io.IOException;

/**
 * The timeouts of one {@link IoQueue}'s commands and its return after a controller reset, run by
 * the queue's own thread, as Linux's nvme_timeout does for a request: a command outstanding
 * longer than the I/O timeout gets an Abort (or, when the controller reports a fatal status,
 * the controller is reset at once); if it has not completed one more timeout after the Abort,
 * the controller is reset.
 *
 * <p>The submit time is recorded per command slot in a preallocated array; the poll path looks at
 * the clock only when a poll finds nothing or every {@value #POLLS_PER_CLOCK_LOOK} polls, and
 * scans the slots at most every quarter timeout — so a command times out after between one and
 * one and a quarter timeouts.
 *
 * <p>A reset ({@link ControllerReset}, from any thread) disables the controller and bumps the generation; it
 * never touches this queue's memory or state, which belong to the queue's thread. That thread
 * sees the new generation at its next submit or poll: the commands outstanding then are settled
 * with {@link NvmeStatus#HOST_ABORTED} (handed to the next poll's listener), the rings start
 * empty, and before the next submission the queue is created again at the controller (Create I/O
 * CQ and SQ, with the same memory). Doing it here, not in the resetting thread, means no ring is
 * ever written by two threads and no stale tail rung by this thread can reach a re-created queue.
 */
final class QueueRecovery {
    private static final byte RUNNING = 0, ABORT_SENT = 1, CANCELLED = 2;
    private static final int POLLS_PER_CLOCK_LOOK = 1024;
    /** A wait with commands outstanding ends at least this often, so a reset by another thread is seen soon. */
    private static final long LOOK_NANOS = 100_000_000;

    private final NvmeDriver driver;
    private final ControllerReset resets;
    private final QueuePair queue;
    private final long timeoutNanos;
    private final long scanIntervalNanos;
    /** By slot: when its command times out (System.nanoTime). */
    private final long[] deadlines;
    private final byte[] states;
    private int cancelled;
    private int pollsSinceLook;
    private long nextScan;
    /** The driver generation the queue's state matches. */
    private int generation;
    /** The driver generation the queue was last created at the controller in; read by close in another thread. */
    private volatile int created;

    QueueRecovery(NvmeDriver driver, QueuePair queue, long timeoutNanos) {
        this.driver = driver;
        this.resets = driver.resets();
        this.queue = queue;
        this.timeoutNanos = timeoutNanos;
        this.scanIntervalNanos = Math.max(1, timeoutNanos / 4);
        this.deadlines = new long[queue.slots()];
        this.states = new byte[queue.slots()];
        this.generation = resets.generation();   // the queue was just created, under the admin lock
        this.created = generation;
    }

    /** Whether the controller holds the queue in driver generation {@code current}. */
    boolean createdIn(int current) {
        return created == current;
    }

    /**
     * Before a submission: the queue is the controller's current one — after a reset, restarted
     * and created again (its outstanding commands wait for the next poll, settled).
     */
    void beforeSubmit() throws IOException {
        while (generation != resets.generation() || created != generation) {
            if (generation != resets.generation()) {
                restart();
            }
            if (driver.recreate(queue, generation)) {
                created = generation;
            }
        }
    }

    /** The command of {@code slot} was just submitted. */
    void started(int slot) {
        deadlines[slot] = System.nanoTime() + timeoutNanos;
        states[slot] = RUNNING;
    }

    /** After a poll that reaped {@code reaped}: whether {@link #recover} has something to do. Cheap. */
    boolean due(int reaped) {
        if (cancelled != 0 || generation != resets.generation()) {
            return true;
        }
        if (reaped != 0 && ++pollsSinceLook < POLLS_PER_CLOCK_LOOK) {
            return false;
        }
        pollsSinceLook = 0;
        return queue.outstanding() != 0 && System.nanoTime() - nextScan >= 0;
    }

    /**
     * When a wait for completions should end at the latest, {@code deadline} or earlier: with
     * commands outstanding, by the next timeout scan and within {@value #LOOK_NANOS} ns.
     */
    long wakeBy(long deadline) {
        if (queue.outstanding() == 0) {
            return deadline;
        }
        long now = System.nanoTime();   // nanoTime values compare by their difference only
        long wake = nextScan - now <= 0 ? now + 1 : nextScan - now < LOOK_NANOS ? nextScan : now + LOOK_NANOS;
        return wake - deadline < 0 ? wake : deadline;
    }

    /** {@link #wakeBy} for a wait without a deadline of its own (a blocking call's). */
    long wakeBy() {
        return wakeBy(System.nanoTime() + LOOK_NANOS);
    }

    /**
     * Aborts commands past their timeout, resets the controller for those past it after an Abort,
     * and hands the commands a reset took away to {@code listener}; returns how many it handed over.
     */
    int recover(CompletionListener listener) throws IOException {
        int handed = catchUp(listener);
        long now = System.nanoTime();
        if (queue.outstanding() != 0 && now - nextScan >= 0) {
            nextScan = now + scanIntervalNanos;
            expire(now);
            handed += catchUp(listener);
        }
        return handed + (cancelled != 0 ? settleCancelled(listener) : 0);
    }

    private void expire(long now) throws IOException {
        for (int slot = 0; slot < deadlines.length; slot++) {
            if (!queue.isOutstanding(slot) || states[slot] == CANCELLED || now - deadlines[slot] < 0) {
                continue;
            }
            if (queue.hasCompletion()) {
                nextScan = now;   // it may be among them: reaped first, judged at the next poll
                return;
            }
            if (states[slot] == RUNNING && !driver.controllerFatal()) {
                states[slot] = ABORT_SENT;
                deadlines[slot] = now + timeoutNanos;
                resets.abort(queue.id, slot);
            } else {
                resets.afterTimeout(queue.id, slot, generation);
            }
            if (generation != resets.generation()) {
                return;   // a reset took every command
            }
        }
    }

    /** After a reset: what completed before the controller was disabled is delivered as it is, the rest cancelled. */
    private int catchUp(CompletionListener listener) throws IOException {
        if (generation == resets.generation()) {
            return 0;
        }
        int reaped = queue.reap(listener);
        restart();
        return reaped;
    }

    /** The controller was reset: commands outstanding are cancelled, the rings start empty. */
    private void restart() {
        int current = resets.generation();
        for (int slot = 0; slot < states.length; slot++) {
            if (queue.isOutstanding(slot) && states[slot] != CANCELLED) {
                states[slot] = CANCELLED;
                cancelled++;
            }
        }
        queue.restart();
        generation = current;
    }

    private int settleCancelled(CompletionListener listener) {
        int settled = 0;
        for (int slot = 0; slot < states.length && cancelled != 0; slot++) {
            if (states[slot] == CANCELLED) {
                states[slot] = RUNNING;
                cancelled--;
                settled++;
                listener.completed(queue.release(slot), NvmeStatus.HOST_ABORTED, 0);
            }
        }
        return settled;
    }
}
