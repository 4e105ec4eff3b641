package io.jvfio.devices.nvme;

import java.util.function.IntFunction;

/**
 * Where a completion queue's interrupt goes (§7.5): with MSI-X on, the queue's own vector; without
 * it, the one INTx line, level-triggered — asserted while some completion queue that interrupts
 * holds entries the host has not consumed and INTMS leaves its vector unmasked (§7.5.1.1). INTMS
 * and INTMC, the mask registers, live here.
 */
final class InterruptRouting {
    /** What the PCI core does for the controller (its methods are protected there). */
    interface Lines {
        boolean msixEnabled();

        void raise(int vector);

        void setIntx(boolean level);
    }

    private final Lines lines;
    private final IntFunction<CompletionQueue> completionQueues;
    /** The INTx level is computed and driven under it, so two updates never cross. */
    private final Object intxLock = new Object();
    /** INTMS: a bit per vector, masked while set; meaningful only without MSI-X. */
    private volatile int masks;

    /** {@code completionQueues}: the completion queue of an id below {@link NvmeController#VECTORS}, or null. */
    InterruptRouting(Lines lines, IntFunction<CompletionQueue> completionQueues) {
        this.lines = lines;
        this.completionQueues = completionQueues;
    }

    boolean msixEnabled() {
        return lines.msixEnabled();
    }

    /** INTMS and INTMC both read the mask. */
    int masks() {
        return masks;
    }

    /** An INTMS write: sets the mask bits given. */
    void mask(int vectors) {
        synchronized (intxLock) {
            masks |= vectors;
        }
        updateIntx();
    }

    /** An INTMC write: clears the mask bits given. */
    void unmask(int vectors) {
        synchronized (intxLock) {
            masks &= ~vectors;
        }
        updateIntx();
    }

    /** A migration brings the mask along. */
    void restoreMasks(int vectors) {
        masks = vectors;
    }

    /** New completions on {@code cq}: its vector fires, or the INTx level follows. */
    void interrupt(CompletionQueue cq) {
        if (!cq.interruptsEnabled) {
            return;
        }
        if (lines.msixEnabled()) {
            lines.raise(cq.vector);
        } else {
            updateIntx();
        }
    }

    /** The INTx level: some completion queue that interrupts, with unconsumed entries and its vector unmasked. */
    void updateIntx() {
        if (lines.msixEnabled()) {
            return;
        }
        synchronized (intxLock) {
            boolean level = false;
            int masked = masks;
            for (int i = 0; i < NvmeController.VECTORS && !level; i++) {
                CompletionQueue cq = completionQueues.apply(i);
                level = cq != null && cq.interruptsEnabled && cq.hasPending() && (masked & 1 << (cq.vector & 31)) == 0;
            }
            lines.setIntx(level);
        }
    }

    /** A reset: INTx deasserted and every vector unmasked. */
    void reset() {
        synchronized (intxLock) {
            masks = 0;
            lines.setIntx(false);
        }
    }
}
