package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * A submission queue in host memory and the thread that serves it (§4.1): the host's tail
 * doorbell wakes the worker, which fetches each entry into its preallocated {@link Command},
 * hands it to the queue's command set and posts the completion to the queue's completion queue
 * (waiting while that is full), then interrupts the host — once per batch, and before it would
 * wait for room. A command set may keep a command outstanding (an Asynchronous Event Request).
 *
 * <p>With a shadow doorbell ({@link #useShadow}) the worker also finds the tail in host memory:
 * after draining it keeps polling the shadow slot for {@link #SHADOW_POLL_NANOS}, then publishes
 * EventIdx (so the host's next store rings the trapped doorbell), reads the slot once more — the
 * host may have stored before it saw EventIdx — and only then sleeps, looking at the slot now
 * and then (see {@link #IDLE_LOOK_MIN_NANOS}). A busy queue is thus fed without trapped doorbell
 * writes. Trapped writes wake the worker at all times; their tail is taken only while the host
 * has not been seen storing tails in the slot: a trapped write arrives after the host stored
 * its tail, and the worker may meanwhile have taken newer tails from the slot, so its value
 * could move the tail back behind the head (and the worker would run the whole ring of stale
 * entries again).
 *
 * <p>With polled doorbells ({@link #pollDoorbells}) an awake worker looks at its own tail and its
 * completion queue's head in the mapped doorbell page: after a drain it spins on them for up to
 * {@link #POLLED_SPIN_NANOS} (the page's poller leaves them alone meanwhile), then gives them back
 * to the poller and sleeps. A busy queue is thus fed with no thread hand-off and no unpark.
 *
 * <p>A migration {@link #pause pauses} the queue: the worker finishes the command it holds (its
 * completion posted) and fetches nothing more, and does no DMA at all, until {@link #resume};
 * doorbells rung meanwhile are recorded. {@link #isBusy} tells whether the worker still works.
 *
 * <p>Host memory that cannot be read or written (an entry, a completion) is a controller fatal
 * status, not an exception that ends the thread.
 */
final class SubmissionQueue {
    /** Completions posted before the host hears of them, at most, while commands keep coming. */
    private static final int INTERRUPT_BATCH = 16;
    private static final long JOIN_MILLIS = 10_000;
    /** How long a drained worker keeps looking at the shadow tail before it publishes EventIdx and sleeps. */
    private static final long SHADOW_POLL_NANOS = 2_000_000;
    /** The pause between two looks at the shadow tail (a timer-slack sleep: other threads get the core). */
    private static final long SHADOW_POLL_INTERVAL_NANOS = 20_000;
    /**
     * A sleeping worker with a shadow slot still looks at it now and then, from 1 ms to 64 ms
     * apart: the EventIdx handshake is a store-then-load on each side, and a guest under TCG with
     * one vCPU may get no host fence for its barrier (QEMU emits them for parallel vCPUs), so its
     * store can pass its load of EventIdx and a needed ring never come. This bounds such a lost
     * wake-up by milliseconds instead of the host's I/O timeout.
     */
    private static final long IDLE_LOOK_MIN_NANOS = 1_000_000, IDLE_LOOK_MAX_NANOS = 64_000_000;
    /** How long an idle worker with polled doorbells spins on its slots before it sleeps. */
    private static final long POLLED_SPIN_NANOS = 1_000_000;
    /** Spins between two looks at the clock. */
    private static final int SPINS_PER_CLOCK = 256;

    /** What runs the fetched commands: the admin command set or the NVM command set. */
    interface Executor {
        /**
         * Runs {@code command} (not fused: the queue has checked; the command set checks PSDT);
         * returns false to keep it outstanding (no completion now).
         */
        boolean execute(SubmissionQueue queue, Command command, DmaView dma);
    }

    /** The controller services a queue needs. */
    interface Host {
        /** The client's memory, or null while no client is connected. */
        DmaView dmaOrNull();

        void interrupt(CompletionQueue cq);

        void fatal(String why, Throwable cause);

        /** A command was taken from {@code queue} (counted for the doorbell statistics). */
        void fetched(SubmissionQueue queue);

        /** What an injected fault ({@link NvmeFaults}) makes of {@code command}, just fetched. */
        NvmeFaults.Verdict fault(SubmissionQueue queue, Command command);

        /** Posts the completion of {@code command}, run now, after the delay a fault set on it. */
        void completeLater(SubmissionQueue queue, Command command);
    }

    final int id;
    final long base;
    final int size;
    final CompletionQueue cq;
    final Command command = new Command();
    /** What fault rules see of the command in hand; made when rules are first armed (worker only). */
    private NvmeCommandPoint faultPoint;

    private final Executor executor;
    private final Host host;
    private final Thread worker;
    private final AtomicBoolean kicked = new AtomicBoolean();
    private final Runnable signal;
    /** Written by the worker only (and a migration's restore), from {@link #rungTail} or the shadow slot. */
    private volatile int tail;
    /** The last trapped tail doorbell (session thread). */
    private volatile int rungTail;
    private volatile int head;
    private volatile boolean live = true;
    /** A migration stopped the queue: the worker takes no command until {@link #resume}. */
    private volatile boolean paused;
    /** The worker is awake (fetching, executing, posting or polling the shadow tail), not parked. */
    private volatile boolean busy;
    /** The tail's shadow slot once the host configured shadow doorbells; only the worker reads it. */
    private volatile ShadowDoorbell shadowTail;
    /** The shadow slot changed since Doorbell Buffer Config: the host stores its tails there (worker only). */
    private volatile boolean hostStoresShadowTails;
    /** With polled doorbells: the worker's looks at its tail's and its completion queue head's slots; else null. */
    private volatile PolledDoorbellPage.Owner polledTail, polledHead;

    SubmissionQueue(int id, long base, int size, CompletionQueue cq, Executor executor, Host host, String threadName) {
        this.id = id;
        this.base = base;
        this.size = size;
        this.cq = cq;
        this.executor = executor;
        this.host = host;
        this.signal = this::signal;
        cq.attach();
        this.worker = Thread.ofPlatform().daemon().name(threadName).unstarted(this::run);
        worker.start();
    }

    /** The worker's one fault point, refilled for every command while fault rules are armed. */
    NvmeCommandPoint faultPoint() {
        if (faultPoint == null) {
            faultPoint = new NvmeCommandPoint();
        }
        return faultPoint;
    }

    boolean isLive() {
        return live;
    }

    int head() {
        return head;
    }

    /** The newest tail the host gave: rung, or stored in the shadow slot as the worker last read it. */
    int tail() {
        return hostStoresShadowTails ? tail : rungTail;
    }

    /** The tail's shadow slot, or null while the queue has none. */
    ShadowDoorbell shadowTail() {
        return shadowTail;
    }

    /**
     * A migration's destination: the queue goes on from the source's head and tail, and, if the
     * source's host stored tails in the shadow slot, takes them from there only (a late trapped
     * doorbell must not move the tail back here either). Before the worker is kicked.
     */
    void restore(int head, int tail, boolean hostStoresShadowTails) {
        this.head = head;
        this.tail = tail;
        this.rungTail = tail;
        this.hostStoresShadowTails = hostStoresShadowTails;
    }

    /** Whether the host has stored a tail in the shadow slot since Doorbell Buffer Config (its rings then only wake the worker). */
    boolean hostStoresShadowTails() {
        return hostStoresShadowTails;
    }

    /**
     * The host's tail doorbell; false (and ignored) for a value beyond the queue. Once the host
     * stores tails in the shadow slot, a ring only wakes the worker, which takes the tail from the
     * slot: the host stores it there before it rings (§5.8), and a trapped write is posted, so it
     * can arrive after later stores — its value would move the tail back and rerun a lap of old
     * entries. A host that never stores in the slot keeps ringing with trapped values.
     */
    boolean moveTail(int value) {
        if (value >= size) {
            return false;
        }
        rungTail = value;
        kick();
        return true;
    }

    /** Doorbell Buffer Config: from now on the worker also finds the tail in {@code slot}. */
    void useShadow(ShadowDoorbell slot) {
        shadowTail = slot;
        kick();   // the host may have stored a tail already
    }

    /** Polled doorbells: while awake, the worker takes its tail and its completion queue's head from the page itself. */
    void pollDoorbells(PolledDoorbellPage.Owner tail, PolledDoorbellPage.Owner head) {
        polledTail = tail;
        polledHead = head;
    }

    /** Whether the worker takes its doorbells from the polled page itself. */
    boolean pollsDoorbells() {
        return polledHead != null;
    }

    /** A full completion queue's poster: the host's head, when it stored a new one in the polled page (worker only). */
    boolean polledHeadMoved() {
        PolledDoorbellPage.Owner head = polledHead;
        return head != null && head.take();
    }

    private void kick() {
        // The worker itself kicks when it takes a polled tail: it is awake, so no unpark.
        if (!kicked.getAndSet(true) && Thread.currentThread() != worker) {
            LockSupport.unpark(worker);
        }
    }

    /**
     * Takes no more commands once the one in hand is completed; see {@link #isBusy}. A worker
     * waiting for room in a full completion queue gives its command back instead (see
     * {@link #yieldsWhenFull}): during a stop the host's head doorbell cannot be served.
     */
    void pause() {
        paused = true;
        cq.wakePosters();
    }

    /**
     * Whether a completion that finds the completion queue full is given back rather than waited
     * for: an I/O queue paused by a migration. Its command is fetched again after the stop (here,
     * or at the destination from the saved head) and runs once more — a read or write the host
     * has not seen complete may run twice, as after an abort; admin commands are not repeated.
     */
    boolean yieldsWhenFull() {
        return paused && id != 0;
    }

    /** The command set this queue's worker runs. */
    Executor executor() {
        return executor;
    }

    /** Whether the worker is still at work (after {@link #pause}: finishing its command or shadow poll). */
    boolean isBusy() {
        return busy;
    }

    /** Takes commands again, and looks at the tail: the host may have rung while the queue was paused. */
    void resume() {
        paused = false;
        kick();
    }

    /** Stops taking commands; a command being executed finishes, its completion is dropped. */
    void kill() {
        live = false;
        cq.wakePosters();
        LockSupport.unpark(worker);
    }

    /** After {@link #kill()}: waits for the worker to finish its command, then releases the completion queue. */
    void awaitStopped() {
        if (Thread.currentThread() != worker) {
            try {
                worker.join(JOIN_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        cq.detach();
    }

    /** {@link #complete(Command, DmaView)} from any thread but the session's; false also while no client is connected. */
    boolean complete(Command outstanding) {
        DmaView dma = host.dmaOrNull();
        return dma != null && complete(outstanding, dma);
    }

    /** Posts the completion of a command kept outstanding; false when it could not be (queue gone). */
    boolean complete(Command outstanding, DmaView dma) {
        try {
            boolean posted = cq.post(dma, this, outstanding, signal);
            signal();
            return posted;
        } catch (VfioException | RuntimeException e) {
            host.fatal("completion queue %d: %s".formatted(cq.id, e.getMessage()), e);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void signal() {
        if (cq.takeUnsignalled()) {
            host.interrupt(cq);
        }
    }

    private void run() {
        try {
            serve();
        } finally {
            PolledDoorbellPage.Owner tailSlot = polledTail, headSlot = polledHead;
            if (tailSlot != null) {
                tailSlot.release();
                headSlot.release();
            }
        }
    }

    private void serve() {
        while (live) {
            long look = IDLE_LOOK_MIN_NANOS;
            while (!kicked.getAndSet(false)) {
                if (polledTail != null && !paused) {
                    try {
                        if (spinOnPolledSlots()) {
                            continue;
                        }
                    } catch (RuntimeException e) {
                        host.fatal("queue %d: %s".formatted(id, e.getMessage()), e);
                        return;
                    }
                }
                if (shadowTail == null || paused) {
                    LockSupport.park(this);
                } else {
                    LockSupport.parkNanos(this, look);
                    look = Math.min(2 * look, IDLE_LOOK_MAX_NANOS);
                    try {
                        if (!kicked.get() && shadowStoreWaits()) {
                            break;
                        }
                    } catch (VfioException | RuntimeException e) {
                        if (live) {
                            host.fatal("queue %d: %s".formatted(id, e.getMessage()), e);
                        }
                        return;
                    }
                }
                if (!live) {
                    return;
                }
            }
            // Busy before paused is read, paused before busy is read by pause's caller: one of the two sees the other.
            busy = true;
            try {
                DmaView dma = paused ? null : host.dmaOrNull();
                if (dma == null) {
                    continue;   // resume kicks again
                }
                do {
                    drain(dma);
                } while (shadowTailMoves(dma));
            } catch (VfioException | RuntimeException e) {
                // Host memory gone or unreachable, or a bug: the controller fails, the JVM does not.
                if (live) {
                    host.fatal("queue %d: %s".formatted(id, e.getMessage()), e);
                }
                return;
            } catch (InterruptedException e) {
                return;
            } finally {
                busy = false;
            }
        }
    }

    private void drain(DmaView dma) throws VfioException, InterruptedException {
        int posted = 0;
        ShadowDoorbell shadow = shadowTail;
        while (live && !paused) {
            int at = head;
            if (at == tail && !refreshTail(shadow, dma)) {
                break;
            }
            dma.read(base + (long) at * SQE_SIZE, command.entry);
            head = at + 1 == size ? 0 : at + 1;
            host.fetched(this);
            command.begin();
            if (command.fuse() != 0) {
                command.fail(SC_INVALID_FIELD);   // no fused operations in either command set
            } else {
                NvmeFaults.Verdict fault = host.fault(this, command);
                if (fault == NvmeFaults.Verdict.WITHHOLD
                        || fault != NvmeFaults.Verdict.COMPLETE && !executor.execute(this, command, dma)) {
                    continue;
                }
                if (fault == NvmeFaults.Verdict.DELAY) {
                    host.completeLater(this, command);
                    continue;
                }
            }
            if (!cq.post(dma, this, command, signal)) {
                if (live && yieldsWhenFull()) {
                    head = at;   // given back: fetched again when the queue runs
                }
                continue;
            }
            if (++posted == INTERRUPT_BATCH) {
                posted = 0;
                signal();
            }
        }
        signal();
    }

    /**
     * After a drain, with a shadow doorbell: true when the host stored a new tail within the
     * polling time, or after EventIdx went out; false to sleep (EventIdx published: the host rings).
     */
    private boolean shadowTailMoves(DmaView dma) throws VfioException {
        ShadowDoorbell shadow = shadowTail;
        if (shadow == null) {
            return false;
        }
        long deadline = System.nanoTime() + SHADOW_POLL_NANOS;
        while (live && !paused && !kicked.get()) {
            if (refreshTail(shadow, dma)) {
                return true;
            }
            if (System.nanoTime() - deadline >= 0) {
                shadow.publishEventIdx(dma, head);
                return refreshTail(shadow, dma);   // stored before the host could see EventIdx
            }
            LockSupport.parkNanos(this, SHADOW_POLL_INTERVAL_NANOS);   // a doorbell unparks
        }
        return false;   // killed, paused, or a trapped doorbell: the run loop takes the kick
    }

    /**
     * An idle worker with polled doorbells: owns its slots and spins on them until a doorbell
     * comes (true: kicked) or {@link #POLLED_SPIN_NANOS} pass, or the queue is paused or killed;
     * then gives the slots back to the poller (false: the worker sleeps until kicked).
     */
    private boolean spinOnPolledSlots() {
        PolledDoorbellPage.Owner tailSlot = polledTail, headSlot = polledHead;
        tailSlot.own();
        headSlot.own();
        long idleSince = System.nanoTime();
        for (int spins = 1; live && !paused; spins++) {
            headSlot.take();
            if (tailSlot.take() || kicked.get()) {
                return true;   // the slots stay owned: the worker comes back after the drain
            }
            Thread.onSpinWait();
            if (spins % SPINS_PER_CLOCK == 0 && System.nanoTime() - idleSince > POLLED_SPIN_NANOS) {
                break;
            }
        }
        tailSlot.release();
        headSlot.release();
        return kicked.get();
    }

    /** A sleeping worker's look at the shadow slot: true when the host stored a tail it did not ring for. */
    private boolean shadowStoreWaits() throws VfioException {
        ShadowDoorbell shadow = shadowTail;
        busy = true;   // as in run: a stop either sees the worker busy or is seen here
        try {
            DmaView dma = paused || shadow == null ? null : host.dmaOrNull();
            return live && dma != null && refreshTail(shadow, dma);
        } finally {
            busy = false;
        }
    }

    /**
     * Takes a new tail from the shadow slot (ignored beyond the queue), or from the last trapped
     * doorbell while the host has not stored tails in the slot; true when entries wait.
     */
    private boolean refreshTail(ShadowDoorbell shadow, DmaView dma) throws VfioException {
        PolledDoorbellPage.Owner tailSlot = polledTail;
        if (tailSlot != null) {
            tailSlot.take();   // a new tail is in rungTail now (and kicked: the run loop comes round once more)
        }
        int value = shadow == null ? -1 : shadow.poll(dma);
        if (value >= 0 && value < size) {
            tail = value;
            hostStoresShadowTails = true;
        } else if (!hostStoresShadowTails) {
            tail = rungTail;
        }
        return head != tail;
    }
}
