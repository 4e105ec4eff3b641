package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.ControllerRegisters.PAGE_SIZE;
import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.linux.Errno;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The controller's live migration: how it stops, what it saves and how a destination takes it up.
 *
 * <p>A stop pauses every submission queue: each worker completes the command it holds (the
 * completion posted, its interrupt held by the PCI core and carried along) and fetches nothing
 * more; then the namespaces are flushed (the images are shared storage). Commands the host queued
 * that the source never fetched stay in host memory, and the destination fetches them from the
 * saved heads when it runs, so each command completes exactly once.
 *
 * <p>The state, in sections of format version 1, {@code nvme.queues} of version 2 (a stream that
 * does not fit this controller — other namespaces, a queue beyond its limits, a truncated section —
 * is refused before anything changes):
 * <ul>
 * <li>{@code nvme}: NN and, by namespace id, the namespace's blocks and LBA shift, or 0 and 0 for an
 *     inactive id (checked, not applied: the destination must have the same namespaces attached);
 *     CC, AQA, ASQ, ACQ, INTMS, CSTS and the shadow doorbell buffers' addresses;
 * <li>{@code nvme.features}: every feature's current value;
 * <li>{@code nvme.queues}: each completion queue (id, base, size, IEN, vector, head as last seen,
 *     tail, phase, its shadow slot's last value) and submission queue (id, base, size, CQ, head,
 *     tail, its shadow slot's last value, and — version 2 — whether the host stores its tails in
 *     the slot: a version 1 stream, from an older jvfio, loads as if it did not);
 * <li>{@code nvme.events}: the command ids of the Asynchronous Event Requests outstanding;
 * <li>{@code nvme.logs}: the SMART counters.
 * </ul>
 */
final class ControllerMigration {
    /** How long a stop waits for the commands in progress before it gives up (EBUSY). */
    private static final long QUIESCE_TIMEOUT_NANOS = 10_000_000_000L;
    private static final String STATE = "nvme", FEATURES = "nvme.features", QUEUES = "nvme.queues",
            EVENTS = "nvme.events", LOGS = "nvme.logs";
    private static final int VERSION = 1;
    /** Version 2 adds each submission queue's "host stores shadow tails" (see {@link SubmissionQueue#restore}). */
    private static final int QUEUES_VERSION = 2;
    private static final int CSTS_BITS = CSTS_RDY | CSTS_CFS | CSTS_SHST_MASK;

    private final NvmeController controller;
    private final ControllerRegisters registers;
    private final QueueRegistry queues;
    private final InterruptRouting interrupts;

    private record CompletionQueueState(int id, long base, int size, boolean interrupts, int vector, int head, int tail,
                                boolean phase, boolean shadow, int shadowLastSeen, boolean eventIdxPerEntry) {}

    private record SubmissionQueueState(int id, long base, int size, int cqid, int head, int tail, boolean shadow,
                                int shadowLastSeen, boolean hostStoresShadowTails) {}

    /** The queues of a stream, by id (null where none). */
    private record SavedQueues(CompletionQueueState[] cqs, SubmissionQueueState[] sqs, int cqCount, int sqCount) {}

    ControllerMigration(NvmeController controller, ControllerRegisters registers, QueueRegistry queues,
                        InterruptRouting interrupts) {
        this.controller = controller;
        this.registers = registers;
        this.queues = queues;
        this.interrupts = interrupts;
    }

    // ------------------------------------------------------------------ stop and run

    /**
     * Pauses every queue and waits for the commands in hand to complete, then, if {@code durable},
     * flushes the namespaces; EBUSY after 10 s (the controller runs on).
     */
    void quiesce(boolean durable) throws VfioException {
        queues.pause();
        long deadline = System.nanoTime() + QUIESCE_TIMEOUT_NANOS;
        while (queues.isBusy()) {
            if (System.nanoTime() - deadline > 0) {
                queues.resume();
                throw new VfioException(Errno.EBUSY, "%s: a command did not complete within %d s of the stop"
                        .formatted(controller.name(), QUIESCE_TIMEOUT_NANOS / 1_000_000_000L));
            }
            LockSupport.parkNanos(100_000);
        }
        if (durable) {
            controller.flushNamespaces();
        }
    }

    /** Runs again: each queue looks at its tail (the host may have queued commands meanwhile); INTx follows the queues. */
    void resume() {
        queues.resume();
        interrupts.updateIntx();
    }

    // ------------------------------------------------------------------ save

    /** Deterministic: the same state writes the same bytes. Queues are read without stopping their workers (pre-copy re-sends). */
    void save(StateWriter out) {
        ControllerRegisters.Saved r = registers.save();
        ShadowBuffers buffers = queues.shadowBuffers();
        Namespace[] namespaces = controller.namespaces().snapshot();
        StateWriter.Section s = out.section(STATE, VERSION).u8(namespaces.length);
        for (Namespace ns : namespaces) {
            s.u64(ns == null ? 0 : ns.blocks()).u8(ns == null ? 0 : ns.lbaShift());
        }
        s.u32(r.cc()).u32(r.aqa()).u64(r.asq()).u64(r.acq()).u32(interrupts.masks()).u32(r.csts())
                .bool(buffers != null).u64(buffers == null ? 0 : buffers.doorbells()).u64(buffers == null ? 0 : buffers.eventIdx());
        controller.features.save(out.section(FEATURES, VERSION));

        List<CompletionQueue> cqs = queues.completionQueues();
        List<SubmissionQueue> sqs = queues.submissionQueues();
        StateWriter.Section q = out.section(QUEUES, QUEUES_VERSION).u8(cqs.size());
        for (CompletionQueue cq : cqs) {
            ShadowDoorbell shadow = cq.shadowHead();
            q.u16(cq.id).u64(cq.base).u16(cq.size).bool(cq.interruptsEnabled).u16(cq.vector)
                    .u16(cq.head()).u16(cq.tail()).bool(cq.phase())
                    .bool(shadow != null).u32(shadow == null ? 0 : shadow.lastSeen()).bool(cq.eventIdxPerEntry());
        }
        q.u8(sqs.size());
        for (SubmissionQueue sq : sqs) {
            ShadowDoorbell shadow = sq.shadowTail();
            q.u16(sq.id).u64(sq.base).u16(sq.size).u16(sq.cq.id).u16(sq.head()).u16(sq.tail())
                    .bool(shadow != null).u32(shadow == null ? 0 : shadow.lastSeen()).bool(sq.hostStoresShadowTails());
        }

        int[] events = controller.adminCommands() == null ? new int[0] : controller.events.outstandingRequests();
        StateWriter.Section e = out.section(EVENTS, VERSION).u8(events.length);
        for (int cid : events) {
            e.u16(cid);
        }
        LogPages logs = controller.logs;
        out.section(LOGS, VERSION).u64(logs.blocksRead.sum()).u64(logs.blocksWritten.sum())
                .u64(logs.readCommands.sum()).u64(logs.writeCommands.sum());
    }

    // ------------------------------------------------------------------ load

    /** Everything is read and checked first; only then is the controller changed. Its queues stay paused until {@link #resume}. */
    void load(StateReader in) throws VfioException {
        StateReader.Section s = in.section(STATE).requireVersion(VERSION);
        checkNamespaces(s);
        ControllerRegisters.Saved r = new ControllerRegisters.Saved(s.u32(), s.u32(), s.u64(), s.u64(), 0);
        int masks = s.u32(), csts = s.u32();
        boolean hasShadow = s.bool();
        long doorbells = s.u64(), eventIdx = s.u64();
        if ((csts & ~CSTS_BITS) != 0) {
            throw invalid("CSTS 0x%x has reserved bits set", csts);
        }
        boolean enabled = (r.cc() & CC_EN) != 0;
        if (!enabled) {
            csts &= ~CSTS_RDY;   // a disable the source had not finished: its workers are gone here
        }
        if ((csts & CSTS_SHST_MASK) == SHST_IN_PROGRESS << CSTS_SHST_SHIFT) {
            csts = csts & ~CSTS_SHST_MASK | SHST_COMPLETE << CSTS_SHST_SHIFT;   // the stop flushed the namespaces
        }
        r = new ControllerRegisters.Saved(r.cc(), r.aqa(), r.asq(), r.acq(), csts);
        if (hasShadow && (unaligned(doorbells) || unaligned(eventIdx) || doorbells == eventIdx)) {
            throw invalid("shadow doorbell buffers 0x%x / 0x%x are not two pages", doorbells, eventIdx);
        }
        ShadowBuffers buffers = hasShadow ? new ShadowBuffers(doorbells, eventIdx) : null;
        Features features = Features.load(in.section(FEATURES).requireVersion(VERSION), NvmeController.MAX_IO_QUEUE_PAIRS,
                NvmeController.VECTORS);

        SavedQueues saved = readQueues(in.section(QUEUES).requireVersion(VERSION, QUEUES_VERSION), buffers);
        CompletionQueueState[] cqs = saved.cqs();
        SubmissionQueueState[] sqs = saved.sqs();
        int cqCount = saved.cqCount(), sqCount = saved.sqCount();
        boolean ready = enabled && (csts & CSTS_RDY) != 0;
        if (ready != (sqs[0] != null && cqs[0] != null) || (!ready && (cqCount > 0 || sqCount > 0 || hasShadow))) {
            throw invalid("CC 0x%x / CSTS 0x%x do not fit %d completion and %d submission queues (shadow buffers: %b)",
                    r.cc(), csts, cqCount, sqCount, hasShadow);
        }

        StateReader.Section e = in.section(EVENTS).requireVersion(VERSION);
        int[] events = new int[e.u8()];
        if (events.length > AsyncEvents.REQUEST_LIMIT || (events.length > 0 && !ready)) {
            throw invalid("%d asynchronous event requests outstanding", events.length);
        }
        for (int i = 0; i < events.length; i++) {
            events[i] = e.u16();
        }
        StateReader.Section l = in.section(LOGS).requireVersion(VERSION);
        long[] counters = {l.u64(), l.u64(), l.u64(), l.u64()};
        for (long counter : counters) {
            if (counter < 0) {
                throw invalid("a SMART counter is %d", counter);
            }
        }

        // Everything checked: apply.
        registers.restore(r);
        controller.features.copyFrom(features);
        interrupts.restoreMasks(masks);
        LogPages logs = controller.logs;
        restore(logs.blocksRead, counters[0]);
        restore(logs.blocksWritten, counters[1]);
        restore(logs.readCommands, counters[2]);
        restore(logs.writeCommands, counters[3]);
        restoreQueues(cqs, sqs, buffers, events);
    }

    private static SavedQueues readQueues(StateReader.Section q, ShadowBuffers buffers) throws VfioException {
        CompletionQueueState[] cqs = new CompletionQueueState[NvmeController.VECTORS];
        int cqCount = q.u8();
        for (int i = 0; i < cqCount; i++) {
            CompletionQueueState cq = new CompletionQueueState(queueId(q.u16(), cqs, "completion"), q.u64(), q.u16(), q.bool(),
                    q.u16(), q.u16(), q.u16(), q.bool(), q.bool(), q.u32(), q.bool());
            checkQueue("completion", cq.id(), cq.base(), cq.size(), cq.head(), cq.tail(), cq.shadow(), buffers);
            if (cq.vector() >= NvmeController.VECTORS) {
                throw invalid("completion queue %d interrupts on vector %d", cq.id(), cq.vector());
            }
            cqs[cq.id()] = cq;
        }
        SubmissionQueueState[] sqs = new SubmissionQueueState[NvmeController.VECTORS];
        int sqCount = q.u8();
        for (int i = 0; i < sqCount; i++) {
            SubmissionQueueState sq = new SubmissionQueueState(queueId(q.u16(), sqs, "submission"), q.u64(), q.u16(),
                    q.u16(), q.u16(), q.u16(), q.bool(), q.u32(), q.version() >= QUEUES_VERSION && q.bool());
            checkQueue("submission", sq.id(), sq.base(), sq.size(), sq.head(), sq.tail(), sq.shadow(), buffers);
            if (sq.hostStoresShadowTails() && !sq.shadow()) {
                throw invalid("submission queue %d: the host stores tails in a shadow slot it has not", sq.id());
            }
            if (sq.cqid() >= NvmeController.VECTORS || cqs[sq.cqid()] == null || (sq.id() == 0) != (sq.cqid() == 0)) {
                throw invalid("submission queue %d completes on completion queue %d", sq.id(), sq.cqid());
            }
            sqs[sq.id()] = sq;
        }
        return new SavedQueues(cqs, sqs, cqCount, sqCount);
    }

    /** The queues of the stream, paused, in place of this controller's (which {@link ControllerRegisters#restore} killed). */
    private void restoreQueues(CompletionQueueState[] cqs, SubmissionQueueState[] sqs, ShadowBuffers buffers, int[] events) {
        CompletionQueue[] restoredCqs = new CompletionQueue[NvmeController.VECTORS];
        for (CompletionQueueState state : cqs) {
            if (state != null) {
                CompletionQueue cq = new CompletionQueue(state.id(), state.base(), state.size(), state.interrupts(), state.vector());
                cq.restore(state.head(), state.tail(), state.phase());
                if (state.shadow()) {
                    buffers.restore(cq, state.shadowLastSeen(), state.eventIdxPerEntry());
                }
                restoredCqs[cq.id] = cq;
            }
        }
        List<SubmissionQueue> restoredSqs = new ArrayList<>();
        for (SubmissionQueueState state : sqs) {
            if (state != null) {
                CompletionQueue cq = restoredCqs[state.cqid()];
                SubmissionQueue sq = state.id() == 0
                        ? controller.newAdminQueue(state.base(), state.size(), cq, events)
                        : controller.newIoQueue(state.id(), state.base(), state.size(), cq);
                sq.restore(state.head(), state.tail(), state.hostStoresShadowTails());
                if (state.shadow()) {
                    buffers.restore(sq, state.shadowLastSeen());
                }
                restoredSqs.add(sq);
            }
        }
        queues.restore(Arrays.stream(restoredCqs).filter(Objects::nonNull).toList(), restoredSqs, buffers);
    }

    private void checkNamespaces(StateReader.Section s) throws VfioException {
        Namespace[] namespaces = controller.namespaces().snapshot();
        int count = s.u8();
        if (count != namespaces.length) {
            throw invalid("the source controller has %d namespace ids, this one %d", count, namespaces.length);
        }
        for (int i = 0; i < namespaces.length; i++) {
            Namespace ns = namespaces[i];
            long blocks = s.u64();
            int lbaShift = s.u8();
            if (ns == null ? blocks != 0 : blocks != ns.blocks() || lbaShift != ns.lbaShift()) {
                throw invalid("namespace %d has %d blocks of %d bytes at the source, %d of %d here", i + 1, blocks,
                        1L << Math.min(lbaShift, 62), ns == null ? 0 : ns.blocks(), ns == null ? 0 : 1 << ns.lbaShift());
            }
        }
    }

    private static int queueId(int id, Object[] seen, String kind) throws VfioException {
        if (id >= NvmeController.VECTORS || seen[id] != null) {
            throw invalid("%s queue id %d is beyond this controller or given twice", kind, id);
        }
        return id;
    }

    private static void checkQueue(String kind, int id, long base, int size, int head, int tail, boolean shadow,
                                   ShadowBuffers buffers) throws VfioException {
        if (size < 2 || size > ControllerRegisters.MAX_QUEUE_ENTRIES || head >= size || tail >= size || unaligned(base)) {
            throw invalid("%s queue %d: base 0x%x, %d entries, head %d, tail %d", kind, id, base, size, head, tail);
        }
        if (shadow && (buffers == null || id == 0)) {
            throw invalid("%s queue %d has a shadow doorbell without shadow buffers", kind, id);
        }
    }

    private static void restore(LongAdder counter, long value) {
        counter.reset();
        counter.add(value);
    }

    private static boolean unaligned(long address) {
        return (address & (PAGE_SIZE - 1)) != 0;
    }

    private static VfioException invalid(String format, Object... args) {
        return VfioException.invalid("NVMe migration state: " + format.formatted(args));
    }
}
