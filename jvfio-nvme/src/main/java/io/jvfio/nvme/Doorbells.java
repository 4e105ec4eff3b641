package io.jvfio.nvme;

import io.jvfio.client.DeviceException;
import io.jvfio.client.DeviceHandle;
import io.jvfio.client.MappedRegion;
import io.jvfio.client.RegionDescription;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The doorbell registers of BAR 0 (§3.1.2x: SQ y tail at 1000h + 2y·stride, CQ y head one stride on).
 * When the handle maps the part of the BAR that holds them, a ring is a plain store into the mapping
 * (ordered after the queue entry's stores), as a kernel driver writes MMIO; otherwise it is a
 * register write through the handle.
 *
 * <p>With shadow doorbells ({@link #useShadow}, after Doorbell Buffer Config) an I/O queue's new
 * tail or head is stored in the shadow buffer, and the register is written only when the value
 * passes the EventIdx the controller published there — i.e. when it may have stopped looking —
 * as Linux's nvme_dbbuf_update_and_check_event does. The admin queue always rings the register.
 */
final class Doorbells implements AutoCloseable {
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final DeviceHandle device;
    private final long stride;
    private final MappedRegion mappedBar;
    /** The doorbells of queues 0..queues-1 as mapped, from DOORBELLS; null when they are trapped. */
    private final MemorySegment mapped;
    /**
     * The shadow doorbell and EventIdx buffers, laid out like the registers; null without shadow
     * doorbells. Set while no I/O queue exists (bring-up, reset), read by the queues' threads after.
     */
    private volatile MemorySegment shadow, eventIdx;

    private Doorbells(DeviceHandle device, long stride, MappedRegion mappedBar, MemorySegment mapped) {
        this.device = device;
        this.stride = stride;
        this.mappedBar = mappedBar;
        this.mapped = mapped;
    }

    /**
     * The doorbells of queues 0..{@code queues}-1 with CAP.DSTRD {@code dstrd}; mapped when
     * {@code tryMapping} and the handle maps a BAR 0 area that holds them all.
     */
    static Doorbells open(DeviceHandle device, int dstrd, int queues, boolean tryMapping) throws IOException {
        long stride = 4L << dstrd;
        if (tryMapping && mappable(device)) {
            MappedRegion bar;
            try {
                bar = device.mapRegion(NvmeSpec.BAR);
            } catch (DeviceException e) {
                return new Doorbells(device, stride, null, null);   // not mappable after all: trapped
            }
            MemorySegment area = bar.segment(NvmeSpec.DOORBELLS, 2 * stride * queues).orElse(null);
            if (area != null) {
                return new Doorbells(device, stride, bar, area);
            }
            bar.close();
        }
        return new Doorbells(device, stride, null, null);
    }

    private static boolean mappable(DeviceHandle device) throws IOException {
        try (RegionDescription bar = device.regionInfo(NvmeSpec.BAR)) {
            return bar.mmappable();
        }
    }

    boolean isMapped() {
        return mapped != null;
    }

    /** The buffers to use from now on for the I/O queues' doorbells (null, null: the registers only). */
    void useShadow(MemorySegment shadowBuffer, MemorySegment eventIdxBuffer) {
        this.shadow = shadowBuffer;
        this.eventIdx = eventIdxBuffer;
    }

    boolean shadowed() {
        return shadow != null;
    }

    /** Bytes the shadow and EventIdx buffers each need for queues 0..{@code queues}-1 with CAP.DSTRD {@code dstrd}. */
    static long shadowBytes(int dstrd, int queues) {
        return 2 * (4L << dstrd) * queues;
    }

    /**
     * Zeroes queue {@code qid}'s shadow and EventIdx slots before the queue is created, so the
     * controller starts from 0 (the new queue's first tail rings).
     */
    void clearShadow(int qid) {
        MemorySegment values = shadow, events = eventIdx;
        if (values != null) {
            for (long offset = 2L * qid * stride; offset <= (2L * qid + 1) * stride; offset += stride) {
                INT.setVolatile(values, offset, 0);
                INT.setVolatile(events, offset, 0);
            }
        }
    }

    void ringSubmissionTail(int qid, int tail) throws IOException {
        long offset = 2L * qid * stride;
        if (qid == 0 || shadow == null || shadowNeedsRing(offset, tail)) {
            ring(offset, tail);
        }
    }

    void ringCompletionHead(int qid, int head) throws IOException {
        long offset = (2L * qid + 1) * stride;
        if (qid == 0 || shadow == null || shadowNeedsRing(offset, head)) {
            ring(offset, head);
        }
    }

    /** Stores {@code value} in the shadow slot at {@code offset}; true when EventIdx asks for the register too. */
    private boolean shadowNeedsRing(long offset, int value) {
        MemorySegment values = shadow;
        int old = (int) INT.get(values, offset);
        INT.setRelease(values, offset, value);   // the queue entries written before are visible first
        VarHandle.fullFence();                   // the store above before the EventIdx load: the controller fences likewise
        int event = (int) INT.getAcquire(eventIdx, offset);
        return needsEvent(event, value, old);
    }

    /**
     * Whether moving a doorbell value from {@code old} to {@code value} passes {@code eventIdx}
     * (16-bit wrapping arithmetic, as the virtio-style EventIdx is defined).
     */
    static boolean needsEvent(int eventIdx, int value, int old) {
        return ((value - eventIdx - 1) & 0xffff) < ((value - old) & 0xffff);
    }

    private void ring(long offset, int value) throws IOException {
        if (mapped != null) {
            INT.setRelease(mapped, offset, value);   // the entries written before are visible first
        } else {
            VarHandle.fullFence();
            device.write32(NvmeSpec.BAR, NvmeSpec.DOORBELLS + offset, value);
        }
    }

    @Override
    public void close() {
        if (mappedBar != null) {
            mappedBar.close();
        }
    }
}
