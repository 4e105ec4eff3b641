package io.jvfio.devices.nvme;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;

/** The host's shadow doorbell and EventIdx buffers (Doorbell Buffer Config's PRP1 and PRP2), handing queues their slots. */
record ShadowBuffers(long doorbells, long eventIdx) {
    void attach(SubmissionQueue sq, DmaView dma) throws VfioException {
        sq.useShadow(new ShadowDoorbell(dma, doorbells, eventIdx, 2 * sq.id));
    }

    void attach(CompletionQueue cq, DmaView dma, boolean intx) throws VfioException {
        cq.useShadow(new ShadowDoorbell(dma, doorbells, eventIdx, 2 * cq.id + 1), intx);
    }

    /** A migration's destination: the slot as the source last saw it, no DMA. */
    void restore(SubmissionQueue sq, int lastSeen) {
        sq.useShadow(new ShadowDoorbell(doorbells, eventIdx, 2 * sq.id, lastSeen));
    }

    void restore(CompletionQueue cq, int lastSeen, boolean eventIdxPerEntry) {
        cq.useShadow(new ShadowDoorbell(doorbells, eventIdx, 2 * cq.id + 1, lastSeen), eventIdxPerEntry);
    }
}
