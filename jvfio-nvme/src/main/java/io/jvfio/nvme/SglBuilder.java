package io.jvfio.nvme;

import static io.jvfio.nvme.NvmeSpec.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * SGL data pointers for one I/O queue's commands (§4.3.2), built in place: a contiguous buffer is
 * one Data Block descriptor in the command itself; a {@link ScatterList} of several pieces is a
 * Last Segment descriptor in the command that points at the command slot's preallocated page,
 * filled with a Data Block descriptor per piece (at most a page of them). A descriptor is an
 * address and a second quadword — length, reserved bytes and the type in the last byte — which
 * the command carries where PRP1 and PRP2 would be. When SGLS asks for dword alignment and
 * granularity, every data block starts at a dword and holds whole dwords. Nothing is allocated.
 */
final class SglBuilder {
    private static final long MAX_DESCRIPTOR_LENGTH = 0xffff_ffffL;

    private final QueuePair queue;
    private final boolean dwordAligned;

    SglBuilder(QueuePair queue, boolean dwordAligned) {
        this.queue = queue;
        this.dwordAligned = dwordAligned;
    }

    /** The second quadword of a Data Block descriptor for {@code length} bytes. */
    static long dataBlock(long length) {
        return length | (long) (SGL_DATA_BLOCK << SGL_TYPE_SHIFT) << 56;
    }

    /** The second quadword of a Last Segment descriptor for a segment of {@code descriptors} descriptors. */
    static long lastSegment(int descriptors) {
        return (long) descriptors * SGL_DESCRIPTOR_SIZE | (long) (SGL_LAST_SEGMENT << SGL_TYPE_SHIFT) << 56;
    }

    /** Throws IllegalArgumentException when one data block of {@code bytes} at {@code iova} breaks the rules. */
    void checkDataBlock(long iova, long bytes) {
        if (bytes <= 0 || bytes > MAX_DESCRIPTOR_LENGTH) {
            throw new IllegalArgumentException("an SGL data block of %d bytes".formatted(bytes));
        }
        if (dwordAligned && ((iova | bytes) & 3) != 0) {
            throw new IllegalArgumentException(("the controller wants SGL data blocks dword-aligned (SGLS bits 1:0 = 10b):"
                    + " %d bytes at IOVA 0x%x").formatted(bytes, iova));
        }
    }

    /** Throws IllegalArgumentException unless every piece of {@code data} makes a data block that follows the rules. */
    void checkList(ScatterList data) {
        for (int i = 0; i < data.size(); i++) {
            checkDataBlock(data.iova(i), data.length(i));
        }
    }

    /**
     * Writes a Data Block descriptor per piece of {@code data} into {@code slot}'s segment; returns
     * the second quadword of the Last Segment descriptor that names it (its address is
     * {@link QueuePair#slotPageIova}).
     */
    long writeSegment(int slot, ScatterList data) {
        MemorySegment pages = queue.slotPages();
        long at = QueuePair.slotPageOffset(slot);
        for (int i = 0; i < data.size(); i++, at += SGL_DESCRIPTOR_SIZE) {
            pages.set(ValueLayout.JAVA_LONG, at, data.iova(i));
            pages.set(ValueLayout.JAVA_LONG, at + Long.BYTES, dataBlock(data.length(i)));
        }
        return lastSegment(data.size());
    }
}
