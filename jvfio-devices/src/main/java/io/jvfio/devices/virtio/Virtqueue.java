package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.AVAIL_FLAGS;
import static io.jvfio.devices.virtio.Virtio.AVAIL_F_NO_INTERRUPT;
import static io.jvfio.devices.virtio.Virtio.AVAIL_IDX;
import static io.jvfio.devices.virtio.Virtio.AVAIL_RING;
import static io.jvfio.devices.virtio.Virtio.DESC_SIZE;
import static io.jvfio.devices.virtio.Virtio.USED_ELEM_SIZE;
import static io.jvfio.devices.virtio.Virtio.USED_IDX;
import static io.jvfio.devices.virtio.Virtio.USED_RING;

import java.lang.invoke.VarHandle;

/**
 * The device side of one split virtqueue (§2.7): the driver's configuration (size and the three
 * ring addresses, written through the common configuration) and the device's progress
 * (last available index seen, next used index). The worker that owns the queue walks it with
 * {@link #begin}, {@link #nextAvailable}, {@link #putUsed}, {@link #publishUsed}; notification
 * suppression follows EVENT_IDX (used_event / avail_event) when negotiated, else the flags.
 */
final class Virtqueue {
    final int index;
    final int maxSize;

    // Written by the driver through the common configuration (session thread) before enabling.
    volatile int size;
    volatile int msixVector = Virtio.NO_VECTOR;
    volatile boolean enabled;
    volatile long descAddress, driverAddress, deviceAddress;

    // The worker's progress; reset with the queue.
    private int lastAvail;
    private int nextUsed;
    private int usedAtLastCheck;
    private boolean eventIdx;
    private boolean indirect;
    private GuestMemory.View desc, avail, used;

    Virtqueue(int index, int maxSize) {
        this.index = index;
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    /** Back to the power-on state (device reset). Only while no worker uses the queue. */
    void reset() {
        size = maxSize;
        msixVector = Virtio.NO_VECTOR;
        enabled = false;
        descAddress = driverAddress = deviceAddress = 0;
        lastAvail = nextUsed = usedAtLastCheck = 0;
        desc = avail = used = null;
    }

    /** The driver enabled the queue and the device started: fix what was negotiated. */
    void activate(boolean eventIdx, boolean indirect) {
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        lastAvail = nextUsed = usedAtLastCheck = 0;
        desc = avail = used = null;
    }

    /**
     * A migrated queue (destination, device stopped): the source's progress instead of a fresh
     * start, so no request is taken twice and none is skipped.
     */
    void restore(boolean eventIdx, boolean indirect, int lastAvail, int nextUsed, int usedAtLastCheck) {
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        this.lastAvail = lastAvail & 0xffff;
        this.nextUsed = nextUsed & 0xffff;
        this.usedAtLastCheck = usedAtLastCheck & 0xffff;
        desc = avail = used = null;
    }

    int lastAvail() {
        return lastAvail;
    }

    int nextUsed() {
        return nextUsed;
    }

    int usedAtLastCheck() {
        return usedAtLastCheck;
    }

    /** Resolves the rings for a batch of work: in place when the client shared its memory. */
    void begin(GuestMemory memory) {
        int n = size;
        desc = memory.view(descAddress, (long) n * DESC_SIZE, false);
        // used_event follows the available ring, avail_event the used ring.
        avail = memory.view(driverAddress, AVAIL_RING + 2L * n + 2, false);
        used = memory.view(deviceAddress, USED_RING + (long) USED_ELEM_SIZE * n + 2, true);
    }

    GuestMemory.View descriptorTable() {
        return desc;
    }

    boolean indirectAllowed() {
        return indirect;
    }

    /** The head of the next available chain, or -1 when the driver has made none available. */
    int nextAvailable() throws VirtioFault {
        int availIdx = avail.u16(AVAIL_IDX);
        VarHandle.acquireFence(); // ring entries are read only after the index that published them
        if (availIdx == lastAvail) {
            return -1;
        }
        if (((availIdx - lastAvail) & 0xffff) > size) {
            throw new VirtioFault("queue %d: avail index jumped from %d to %d in a queue of %d"
                    .formatted(index, lastAvail, availIdx, size));
        }
        int head = avail.u16(AVAIL_RING + 2L * (lastAvail % size));
        lastAvail = (lastAvail + 1) & 0xffff;
        return head;
    }

    /** Records a completed chain; the driver sees it after {@link #publishUsed()}. */
    void putUsed(int head, long bytesWritten) throws VirtioFault {
        used.putU32Pair(USED_RING + (long) USED_ELEM_SIZE * (nextUsed % size), head, bytesWritten);
        nextUsed = (nextUsed + 1) & 0xffff;
    }

    /** Publishes the used entries and says whether the driver wants an interrupt for them. */
    boolean publishUsed() throws VirtioFault {
        VarHandle.releaseFence(); // the elements before the index that publishes them
        used.putU16(USED_IDX, nextUsed);
        VarHandle.fullFence();    // our index store before reading the driver's suppression state
        int previous = usedAtLastCheck;
        boolean notify;
        if (eventIdx) {
            int usedEvent = avail.u16(AVAIL_RING + 2L * size);
            // vring_need_event: did nextUsed pass used_event since the last interrupt?
            notify = ((nextUsed - usedEvent - 1) & 0xffff) < ((nextUsed - previous) & 0xffff);
        } else {
            notify = (avail.u16(AVAIL_FLAGS) & AVAIL_F_NO_INTERRUPT) == 0 && nextUsed != previous;
        }
        usedAtLastCheck = nextUsed;
        return notify;
    }

    /**
     * Before the worker sleeps: asks the driver to notify at the next available buffer
     * (avail_event, with EVENT_IDX) and re-checks, closing the race with a buffer made available
     * meanwhile. True when there is more work.
     */
    boolean armNotification() throws VirtioFault {
        if (eventIdx) {
            used.putU16(USED_RING + (long) USED_ELEM_SIZE * size, lastAvail);
            VarHandle.fullFence();
        }
        return avail.u16(AVAIL_IDX) != lastAvail;
    }
}
