package io.jvfio.devices.virtio;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The driver's memory as one virtqueue worker sees it, on top of the session's {@link DmaView}:
 * views of guest-physical ranges that read and write little-endian fields in place when the
 * client shared its memory, and through DMA_READ/DMA_WRITE messages when it did not. Every
 * failure (an address outside the DMA windows, a window unmapped under us) becomes a
 * {@link VirtioFault}. Not thread-safe: one instance per worker thread.
 */
final class GuestMemory {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private final DmaView dma;
    // Message-based accesses bounce through here; at most one 64-bit field at a time.
    private final MemorySegment scratch = MemorySegment.ofArray(new long[1]);

    GuestMemory(DmaView dma) {
        this.dma = dma;
    }

    DmaView dma() {
        return dma;
    }

    /** A view of [iova, iova+length): mapped in place when possible, else message-based. */
    View view(long iova, long length, boolean forWrite) {
        MemorySegment mapped = dma.segment(iova, length, forWrite).orElse(null);
        return new View(iova, length, forWrite, mapped);
    }

    void read(long iova, MemorySegment dst) throws VirtioFault {
        try {
            dma.read(iova, dst);
        } catch (VfioException | IllegalStateException e) {
            throw new VirtioFault("DMA read of [0x%x, +0x%x): %s".formatted(iova, dst.byteSize(), e.getMessage()), e);
        }
    }

    void write(long iova, MemorySegment src) throws VirtioFault {
        try {
            dma.write(iova, src);
        } catch (VfioException | IllegalStateException e) {
            throw new VirtioFault("DMA write of [0x%x, +0x%x): %s".formatted(iova, src.byteSize(), e.getMessage()), e);
        }
    }

    /** A guest range with field accessors; offsets are relative to its start and bounds-checked. */
    final class View {
        private final long iova;
        private final long length;
        private final boolean forWrite;
        private MemorySegment mapped;

        private View(long iova, long length, boolean forWrite, MemorySegment mapped) {
            this.iova = iova;
            this.length = length;
            this.forWrite = forWrite;
            this.mapped = mapped;
        }

        /** After a fault: waits out a remap gap (the DMA view does) and takes the window's new mapping (or messages). */
        private void remap(VirtioFault fault) throws VirtioFault {
            if (!dma.awaitMapped(iova, length)) {
                throw fault;
            }
            mapped = dma.segment(iova, length, forWrite).orElse(null);
        }

        boolean isMapped() {
            return mapped != null;
        }

        int u16(long offset) throws VirtioFault {
            try {
                return rawU16(offset);
            } catch (VirtioFault fault) {
                remap(fault);
                return rawU16(offset);
            }
        }

        private int rawU16(long offset) throws VirtioFault {
            check(offset, 2);
            if (mapped != null) {
                try {
                    return Short.toUnsignedInt(mapped.get(U16, offset));
                } catch (IllegalStateException e) {
                    throw unmapped(e);
                }
            }
            read(iova + offset, scratch.asSlice(0, 2));
            return Short.toUnsignedInt(scratch.get(U16, 0));
        }

        long u32(long offset) throws VirtioFault {
            try {
                return rawU32(offset);
            } catch (VirtioFault fault) {
                remap(fault);
                return rawU32(offset);
            }
        }

        private long rawU32(long offset) throws VirtioFault {
            check(offset, 4);
            if (mapped != null) {
                try {
                    return Integer.toUnsignedLong(mapped.get(U32, offset));
                } catch (IllegalStateException e) {
                    throw unmapped(e);
                }
            }
            read(iova + offset, scratch.asSlice(0, 4));
            return Integer.toUnsignedLong(scratch.get(U32, 0));
        }

        long u64(long offset) throws VirtioFault {
            try {
                return rawU64(offset);
            } catch (VirtioFault fault) {
                remap(fault);
                return rawU64(offset);
            }
        }

        private long rawU64(long offset) throws VirtioFault {
            check(offset, 8);
            if (mapped != null) {
                try {
                    return mapped.get(U64, offset);
                } catch (IllegalStateException e) {
                    throw unmapped(e);
                }
            }
            read(iova + offset, scratch.asSlice(0, 8));
            return scratch.get(U64, 0);
        }

        void putU16(long offset, int value) throws VirtioFault {
            try {
                rawPutU16(offset, value);
            } catch (VirtioFault fault) {
                remap(fault);
                rawPutU16(offset, value);
            }
        }

        private void rawPutU16(long offset, int value) throws VirtioFault {
            check(offset, 2);
            if (mapped != null) {
                try {
                    mapped.set(U16, offset, (short) value);
                    return;
                } catch (IllegalStateException e) {
                    throw unmapped(e);
                }
            }
            scratch.set(U16, 0, (short) value);
            write(iova + offset, scratch.asSlice(0, 2));
        }

        /** Writes one used-ring element (id, len) as a single 8-byte store. */
        void putU32Pair(long offset, long first, long second) throws VirtioFault {
            try {
                rawPutU32Pair(offset, first, second);
            } catch (VirtioFault fault) {
                remap(fault);
                rawPutU32Pair(offset, first, second);
            }
        }

        private void rawPutU32Pair(long offset, long first, long second) throws VirtioFault {
            check(offset, 8);
            long both = (first & 0xffff_ffffL) | (second << 32);
            if (mapped != null) {
                try {
                    mapped.set(U64, offset, both);
                    return;
                } catch (IllegalStateException e) {
                    throw unmapped(e);
                }
            }
            scratch.set(U64, 0, both);
            write(iova + offset, scratch.asSlice(0, 8));
        }

        private void check(long offset, int size) {
            if (offset < 0 || offset + size > length) {
                throw new IndexOutOfBoundsException("field [%d, +%d) outside a view of %d bytes".formatted(offset, size, length));
            }
        }

        private VirtioFault unmapped(IllegalStateException e) {
            return new VirtioFault("guest memory at 0x%x was unmapped".formatted(iova), e);
        }
    }
}
