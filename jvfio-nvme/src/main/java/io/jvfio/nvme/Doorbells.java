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
 */
final class Doorbells implements AutoCloseable {
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final DeviceHandle device;
    private final long stride;
    private final MappedRegion mappedBar;
    /** The doorbells of queues 0..queues-1 as mapped, from DOORBELLS; null when they are trapped. */
    private final MemorySegment mapped;

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

    void ringSubmissionTail(int qid, int tail) throws IOException {
        ring(2L * qid * stride, tail);
    }

    void ringCompletionHead(int qid, int head) throws IOException {
        ring((2L * qid + 1) * stride, head);
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
