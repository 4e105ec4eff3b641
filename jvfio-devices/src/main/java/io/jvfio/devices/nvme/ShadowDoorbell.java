package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One queue's slot in the host's shadow doorbell buffer and in the EventIdx buffer that Doorbell
 * Buffer Config names (§5.8): the host stores the new tail (or head) in the shadow slot and rings
 * the trapped doorbell only when the value passes the EventIdx the controller published. Both
 * buffers are laid out like the doorbell registers. Used by one thread at a time (a submission
 * queue's worker, or a completion queue's poster under the queue's monitor); all through the DMA
 * view, so it works with shared and with message-based guest memory.
 */
final class ShadowDoorbell {
    private final long valueAddress, eventIdxAddress;
    private final MemorySegment scratch = MemorySegment.ofArray(new int[1]);
    /** The value {@link #poll} read last: only a change is news (it tells a host that stores in the slot from one that only rings). */
    private int lastSeen;

    /** Slot {@code slot} (2·qid for a tail, 2·qid + 1 for a head); reads the slot's value as it is now. */
    ShadowDoorbell(DmaView dma, long shadowBuffer, long eventIdxBuffer, int slot) throws VfioException {
        this(shadowBuffer, eventIdxBuffer, slot, 0);
        this.lastSeen = read(dma);
    }

    /** Slot {@code slot} whose value was last seen as {@code lastSeen} (by a migration's source): no DMA. */
    ShadowDoorbell(long shadowBuffer, long eventIdxBuffer, int slot, int lastSeen) {
        this.valueAddress = shadowBuffer + (long) slot * DOORBELL_STRIDE;
        this.eventIdxAddress = eventIdxBuffer + (long) slot * DOORBELL_STRIDE;
        this.lastSeen = lastSeen;
    }

    /** The value last read from the slot; a migration carries it so the destination sees only later stores as news. */
    int lastSeen() {
        return lastSeen;
    }

    /** The value the host stored since the last call, or -1 when it has not changed. */
    int poll(DmaView dma) throws VfioException {
        int value = read(dma);
        if (value == lastSeen) {
            return -1;
        }
        lastSeen = value;
        return value & 0xffff;
    }

    /** The value in the shadow slot now (its low 16 bits, as doorbells hold them). */
    int value(DmaView dma) throws VfioException {
        return read(dma) & 0xffff;
    }

    /**
     * Publishes EventIdx: the host rings the trapped doorbell when it moves the value past
     * {@code value}. Fenced, so a read of the shadow slot after it sees what the host stored
     * before it read this EventIdx.
     */
    void publishEventIdx(DmaView dma, int value) throws VfioException {
        scratch.set(ValueLayout.JAVA_INT, 0, value);
        dma.write(eventIdxAddress, scratch);
        VarHandle.fullFence();
    }

    private int read(DmaView dma) throws VfioException {
        dma.read(valueAddress, scratch);
        return scratch.get(ValueLayout.JAVA_INT, 0);
    }
}
