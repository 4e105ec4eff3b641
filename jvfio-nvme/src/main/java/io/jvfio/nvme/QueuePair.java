package io.jvfio.nvme;

import static io.jvfio.nvme.NvmeSpec.*;

import io.jvfio.client.Interrupts;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * One submission queue and its completion queue (§4.1), in DMA memory, with a command slot per
 * usable entry: the command identifier is the slot, which holds the caller's tag and, for I/O
 * queues, a PRP list page. Nothing here allocates: entries are written field by field into the
 * queue's memory and completions are handed to a listener. Not thread-safe: one thread uses it.
 */
final class QueuePair {
    private static final VarHandle SHORT = ValueLayout.JAVA_SHORT.varHandle();
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;
    /** How long one wait for an interrupt lasts before the queue is looked at again (a firing missed is not fatal). */
    private static final Duration INTERRUPT_WAIT_SLICE = Duration.ofMillis(10);
    /** Polling spins this many times, then parks briefly between looks. */
    private static final int SPINS_BEFORE_PARKING = 10_000;
    private static final long PARK_NANOS = 20_000;

    final int id;
    final int entries;
    final DmaRegion submissions;
    final DmaRegion completions;
    /** A page per slot for PRP lists (or a command's data, e.g. Dataset Management's ranges); null for none. */
    final DmaRegion slotPages;
    private final MemorySegment sq;
    private final MemorySegment cq;
    private final Doorbells doorbells;
    /** Where this queue's completions fire, or null when they are polled. */
    private final Interrupts interrupts;
    private final int vector;
    private final long[] tags;
    private final int[] freeSlots;
    private final boolean[] outstanding;
    private int freeCount;
    private int sqTail;
    private int cqHead;
    private boolean phase = true;

    QueuePair(int id, int entries, DmaRegion submissions, DmaRegion completions, DmaRegion slotPages, Doorbells doorbells,
            Interrupts interrupts, int vector) {
        this.id = id;
        this.entries = entries;
        this.submissions = submissions;
        this.completions = completions;
        this.slotPages = slotPages;
        this.sq = submissions.segment();
        this.cq = completions.segment();
        this.doorbells = doorbells;
        this.interrupts = interrupts;
        this.vector = vector;
        int slots = entries - 1;   // a full queue is one entry short of the size (§4.1.2)
        this.tags = new long[slots];
        this.freeSlots = new int[slots];
        this.outstanding = new boolean[slots];
        for (int i = 0; i < slots; i++) {
            freeSlots[i] = slots - 1 - i;
        }
        this.freeCount = slots;
    }

    /** Where this queue's completions fire (null when polled), and on which vector: for tests that watch them. */
    Interrupts interrupts() {
        return interrupts;
    }

    int vector() {
        return vector;
    }

    /** How many commands may be outstanding at once. */
    int slots() {
        return tags.length;
    }

    int outstanding() {
        return tags.length - freeCount;
    }

    /** A free slot (the command's identifier), or -1 when every slot is taken. */
    int acquireSlot(long tag) {
        if (freeCount == 0) {
            return -1;
        }
        int slot = freeSlots[--freeCount];
        tags[slot] = tag;
        outstanding[slot] = true;
        return slot;
    }

    /** Where the device sees slot {@code slot}'s page. */
    long slotPageIova(int slot) {
        return slotPages.iova() + (long) slot * PAGE_SIZE;
    }

    /** Slot {@code slot}'s page as this process sees it. */
    MemorySegment slotPages() {
        return slotPages.segment();
    }

    static long slotPageOffset(int slot) {
        return (long) slot * PAGE_SIZE;
    }

    /** Writes the command of {@code slot} at the tail and rings the tail doorbell; its data pointer holds PRPs. */
    void submit(int slot, int opcode, int nsid, long prp1, long prp2, int cdw10, int cdw11, int cdw12, int cdw13)
            throws IOException {
        submit(slot, opcode, 0, nsid, prp1, prp2, cdw10, cdw11, cdw12, cdw13);
    }

    /**
     * The same with CDW0's flags byte (FUSE, PSDT): with PSDT SGL, {@code prp1} and {@code prp2}
     * are the two halves of the SGL descriptor in the command.
     */
    void submit(int slot, int opcode, int flags, int nsid, long prp1, long prp2, int cdw10, int cdw11, int cdw12, int cdw13)
            throws IOException {
        long at = (long) sqTail * SQE_SIZE;
        sq.set(U32, at + SQE_OPCODE, opcode & 0xff | (flags & 0xff) << 8 | slot << 16);   // opcode, FUSE/PSDT, CID
        sq.set(U32, at + SQE_NSID, nsid);
        sq.set(U64, at + 8, 0);                                   // CDW2-3
        sq.set(U64, at + 16, 0);                                  // MPTR
        sq.set(U64, at + SQE_PRP1, prp1);
        sq.set(U64, at + SQE_PRP2, prp2);
        sq.set(U32, at + SQE_CDW10, cdw10);
        sq.set(U32, at + SQE_CDW11, cdw11);
        sq.set(U32, at + SQE_CDW12, cdw12);
        sq.set(U32, at + SQE_CDW13, cdw13);
        sq.set(U64, at + SQE_CDW14, 0);                           // CDW14-15
        sqTail = sqTail + 1 == entries ? 0 : sqTail + 1;
        doorbells.ringSubmissionTail(id, sqTail);
    }

    /** Whether the entry at the head carries the current phase (a new completion). */
    boolean hasCompletion() {
        short status = (short) SHORT.getAcquire(cq, (long) cqHead * CQE_SIZE + CQE_STATUS);
        return ((status & 1) != 0) == phase;
    }

    /**
     * Hands every new completion to {@code listener}, frees their slots and rings the head doorbell
     * once; returns how many there were.
     */
    int reap(CompletionListener listener) throws IOException {
        int reaped = 0;
        try {
            while (hasCompletion()) {
                long at = (long) cqHead * CQE_SIZE;
                int status = Short.toUnsignedInt(cq.get(ValueLayout.JAVA_SHORT, at + CQE_STATUS)) >>> 1;
                int slot = Short.toUnsignedInt(cq.get(ValueLayout.JAVA_SHORT, at + CQE_CID));
                int result = cq.get(U32, at + CQE_DW0);
                cqHead = cqHead + 1 == entries ? 0 : cqHead + 1;
                if (cqHead == 0) {
                    phase = !phase;
                }
                reaped++;
                if (slot >= tags.length || !outstanding[slot]) {
                    throw new IOException("queue %d: a completion for command %d, which is not outstanding".formatted(id, slot));
                }
                long tag = tags[slot];
                outstanding[slot] = false;
                freeSlots[freeCount++] = slot;
                listener.completed(tag, status, result);
            }
        } finally {
            if (reaped > 0) {   // the entries consumed are the controller's again, whatever the listener did
                doorbells.ringCompletionHead(id, cqHead);
            }
        }
        return reaped;
    }

    /**
     * Waits until a completion is there or {@code deadlineNanos} (System.nanoTime) passes; true when
     * one is. With interrupts it sleeps on the queue's vector, otherwise it spins, then parks briefly.
     */
    boolean awaitCompletion(long deadlineNanos) throws IOException {
        int spins = 0;
        while (!hasCompletion()) {
            if (System.nanoTime() - deadlineNanos > 0) {
                return false;
            }
            if (interrupts != null) {
                interrupts.await(vector, INTERRUPT_WAIT_SLICE);
            } else if (++spins < SPINS_BEFORE_PARKING) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(PARK_NANOS);
            }
        }
        return true;
    }
}
