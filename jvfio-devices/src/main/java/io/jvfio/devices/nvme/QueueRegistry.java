package io.jvfio.devices.nvme;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The controller's queues by id (the admin pair is id 0): what the doorbells reach, what the admin
 * command set creates and deletes, and the shadow doorbell buffers (Doorbell Buffer Config, §5.8)
 * that every I/O queue — also one created later — takes its tail or head from until a reset.
 * Doorbells are served only while the controller is ready (enabled, admin queues in place): trapped
 * writes, and with polled doorbells also the stores a {@link PolledDoorbellPage} sees in the mapped page.
 */
final class QueueRegistry {
    private final AtomicReferenceArray<SubmissionQueue> sqs = new AtomicReferenceArray<>(NvmeController.VECTORS);
    private final AtomicReferenceArray<CompletionQueue> cqs = new AtomicReferenceArray<>(NvmeController.VECTORS);
    private final SubmissionQueue.Host host;
    private final InterruptRouting interrupts;
    private final DoorbellStatistics doorbellStatistics;
    /** The mapped doorbell page in polled mode, else null. */
    private final PolledDoorbellPage polledPage;
    /** Set by Doorbell Buffer Config until the next reset; written under this object's lock. */
    private volatile ShadowBuffers shadowBuffers;
    /** The controller is enabled and ready: doorbells are served. */
    private volatile boolean ready;
    /** A migration stopped the controller: every submission queue, also one added now, is paused. */
    private volatile boolean paused;
    QueueRegistry(SubmissionQueue.Host host, InterruptRouting interrupts, DoorbellStatistics doorbellStatistics,
                  boolean polledDoorbells) {
        this.host = host;
        this.interrupts = interrupts;
        this.doorbellStatistics = doorbellStatistics;
        this.polledPage = polledDoorbells ? new PolledDoorbellPage(NvmeController.VECTORS, this::deliver,
                e -> host.fatal("doorbell page poller: " + e, e)) : null;
    }

    /** The doorbell page of polled mode, or null. */
    PolledDoorbellPage polledPage() {
        return polledPage;
    }

    /** The queue of {@code slot} is created (value 0) or restored: a polled page's slot holds {@code value}. */
    private void resetPolled(int slot, int value) {
        if (polledPage != null) {
            polledPage.reset(slot, value);
        }
    }

    /** With polled doorbells, an I/O queue's worker looks at its tail and its completion queue's head itself while awake. */
    private void pollOwnSlots(SubmissionQueue sq) {
        if (polledPage != null && sq.id != 0) {
            sq.pollDoorbells(polledPage.owner(2 * sq.id), polledPage.owner(2 * sq.cq.id + 1));
        }
    }

    SubmissionQueue submissionQueue(int qid) {
        return qid >= 0 && qid < NvmeController.VECTORS ? sqs.get(qid) : null;
    }

    CompletionQueue completionQueue(int qid) {
        return qid >= 0 && qid < NvmeController.VECTORS ? cqs.get(qid) : null;
    }

    boolean hasIoQueues() {
        for (int i = 1; i < NvmeController.VECTORS; i++) {
            if (sqs.get(i) != null || cqs.get(i) != null) {
                return true;
            }
        }
        return false;
    }

    /** CC.EN 0→1 accepted: the admin queues are in place and doorbells are served from now on. */
    void openAdmin(SubmissionQueue adminSq, CompletionQueue adminCq) {
        resetPolled(0, 0);
        resetPolled(1, 0);
        cqs.set(0, adminCq);
        sqs.set(0, adminSq);
        pauseIfStopped(adminSq);
        ready = true;
    }

    /** A trapped doorbell write (counted for I/O queues), delivered as {@link #deliver} says. */
    void ring(int slot, int value) {
        if (ready && slot >>> 1 != 0 && slot >>> 1 < NvmeController.VECTORS && (value & ~0xffff) == 0) {
            doorbellStatistics.trappedDoorbell(slot);
        }
        deliver(slot, value);
    }

    /**
     * A doorbell: even slots are submission queue tails, odd ones completion queue heads.
     * Writes to queues that do not exist, values beyond a queue and writes while the controller
     * is not ready are ignored.
     */
    private void deliver(int slot, int value) {
        int qid = slot >>> 1;
        if (!ready || qid >= NvmeController.VECTORS || (value & ~0xffff) != 0) {
            return;
        }
        if ((slot & 1) == 0) {
            SubmissionQueue sq = sqs.get(qid);
            if (sq != null) {
                sq.moveTail(value);
            }
        } else {
            CompletionQueue cq = cqs.get(qid);
            // Only a queue that interrupts counts for the INTx level: a polled queue's head (every reap) costs no look.
            if (cq != null && cq.moveHead(value) && cq.interruptsEnabled && !interrupts.msixEnabled()) {
                interrupts.updateIntx();
            }
        }
    }

    void addCompletionQueue(CompletionQueue cq) {
        resetPolled(2 * cq.id + 1, 0);
        attachShadow(null, cq);
        cqs.set(cq.id, cq);
    }

    void addSubmissionQueue(SubmissionQueue sq) {
        resetPolled(2 * sq.id, 0);
        pollOwnSlots(sq);
        attachShadow(sq, null);
        sqs.set(sq.id, sq);
        pauseIfStopped(sq);
    }

    /** After the queue is in the array: {@link #pause} either sees the queue or is seen here. */
    private void pauseIfStopped(SubmissionQueue sq) {
        if (paused) {
            sq.pause();
        }
    }

    /** A queue created after Doorbell Buffer Config uses the shadow buffers too. */
    private void attachShadow(SubmissionQueue sq, CompletionQueue cq) {
        ShadowBuffers buffers = shadowBuffers;
        DmaView dma = host.dmaOrNull();
        if (buffers == null || dma == null) {
            return;
        }
        try {
            if (sq != null) {
                buffers.attach(sq, dma);
            } else {
                buffers.attach(cq, dma, !interrupts.msixEnabled());
            }
        } catch (VfioException e) {
            host.fatal("shadow doorbell buffer unreachable: " + e.getMessage(), e);
        }
    }

    /**
     * Doorbell Buffer Config (admin worker; the addresses are checked): every I/O queue, and those
     * created later, also takes its tail or head from the shadow buffer from now on — unless a
     * reset came meanwhile (the DMA is done outside the lock, which the session thread needs).
     */
    void configureShadowDoorbells(SubmissionQueue adminQueue, long doorbells, long eventIdx, DmaView dma)
            throws VfioException {
        ShadowBuffers buffers = new ShadowBuffers(doorbells, eventIdx);
        for (int qid = 1; qid < NvmeController.VECTORS; qid++) {
            CompletionQueue cq = cqs.get(qid);
            if (cq != null) {
                buffers.attach(cq, dma, !interrupts.msixEnabled());
            }
            SubmissionQueue sq = sqs.get(qid);
            if (sq != null) {
                buffers.attach(sq, dma);
            }
        }
        synchronized (this) {
            if (sqs.get(0) == adminQueue) {
                shadowBuffers = buffers;
                doorbellStatistics.shadowConfigured();
            }
        }
    }

    /** Delete I/O Submission Queue: the worker finishes its command (its completion dropped), then the queue goes. */
    void removeSubmissionQueue(SubmissionQueue sq) {
        sqs.compareAndSet(sq.id, sq, null);
        sq.kill();
        sq.awaitStopped();
    }

    void removeCompletionQueue(CompletionQueue cq) {
        cqs.compareAndSet(cq.id, cq, null);
        cq.kill();
        interrupts.updateIntx();
    }

    // ------------------------------------------------------------------ migration

    /**
     * Every submission queue takes no more commands once the one in hand is done (see {@link
     * #isBusy}); tails stored in a polled doorbell page until now are recorded.
     */
    void pause() {
        paused = true;
        for (int i = 0; i < NvmeController.VECTORS; i++) {
            SubmissionQueue sq = sqs.get(i);
            if (sq != null) {
                sq.pause();
            }
        }
        if (polledPage != null) {
            polledPage.scan();
        }
    }

    /** Whether some paused worker is still finishing a command (or polling its shadow tail). */
    boolean isBusy() {
        for (int i = 0; i < NvmeController.VECTORS; i++) {
            SubmissionQueue sq = sqs.get(i);
            if (sq != null && sq.isBusy()) {
                return true;
            }
        }
        return false;
    }

    /** Every queue takes commands again, starting with those the host queued meanwhile. */
    void resume() {
        paused = false;
        for (int i = 0; i < NvmeController.VECTORS; i++) {
            SubmissionQueue sq = sqs.get(i);
            if (sq != null) {
                sq.resume();
            }
        }
    }

    /** The completion queues there are, by id, for a migration's save. */
    List<CompletionQueue> completionQueues() {
        return present(cqs);
    }

    List<SubmissionQueue> submissionQueues() {
        return present(sqs);
    }

    private static <Q> List<Q> present(AtomicReferenceArray<Q> queues) {
        List<Q> list = new ArrayList<>();
        for (int i = 0; i < queues.length(); i++) {
            Q q = queues.get(i);
            if (q != null) {
                list.add(q);
            }
        }
        return list;
    }

    /** The shadow doorbell buffers, or null while the host has not configured them. */
    ShadowBuffers shadowBuffers() {
        return shadowBuffers;
    }

    /**
     * A migration's destination, after {@link #tearDown}: the source's queues (paused: {@link
     * #resume} starts them) and shadow buffers; doorbells are served if there is an admin queue.
     */
    void restore(List<CompletionQueue> completionQueues, List<SubmissionQueue> submissionQueues, ShadowBuffers buffers) {
        paused = true;
        for (CompletionQueue cq : completionQueues) {
            resetPolled(2 * cq.id + 1, cq.head());
            cqs.set(cq.id, cq);
        }
        for (SubmissionQueue sq : submissionQueues) {
            resetPolled(2 * sq.id, sq.tail());
            pollOwnSlots(sq);
            sq.pause();
            sqs.set(sq.id, sq);
        }
        synchronized (this) {
            shadowBuffers = buffers;
        }
        ready = sqs.get(0) != null;
    }

    /**
     * Kills every queue (workers stop taking commands, nothing more is posted) and forgets the
     * shadow buffers; doorbells are ignored until the next {@link #openAdmin}. Returns the
     * submission queues, whose workers may still finish a command.
     */
    List<SubmissionQueue> tearDown() {
        ready = false;
        List<SubmissionQueue> stopped = new ArrayList<>();
        for (int i = 0; i < NvmeController.VECTORS; i++) {
            SubmissionQueue sq = sqs.getAndSet(i, null);
            if (sq != null) {
                sq.kill();
                stopped.add(sq);
            }
        }
        for (int i = 0; i < NvmeController.VECTORS; i++) {
            CompletionQueue cq = cqs.getAndSet(i, null);
            if (cq != null) {
                cq.kill();
            }
        }
        synchronized (this) {
            shadowBuffers = null;
        }
        return stopped;
    }
}
