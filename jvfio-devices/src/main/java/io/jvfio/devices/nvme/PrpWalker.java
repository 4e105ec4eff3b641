package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.ControllerRegisters.PAGE_SIZE;
import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Turns a command's PRP1/PRP2 into the host memory ranges of its data (§4.3): PRP1 with a dword
 * offset, then PRP2 as a second page or as a pointer to a PRP list — which may itself start at an
 * offset, and whose last entry points to the next list page when more entries follow than fit.
 * Every entry but PRP1 must start a page (PRP Offset Invalid otherwise); a list that cannot be
 * read is a Data Transfer Error. One walker per queue worker: the ranges and the list page are
 * preallocated, and {@link #copy} moves data between the ranges and a buffer.
 */
final class PrpWalker {
    private static final long PAGE_MASK = PAGE_SIZE - 1;
    private static final int ENTRY = Long.BYTES;

    private final DataRanges ranges;
    private final MemorySegment listPage = MemorySegment.ofArray(new long[PAGE_SIZE / ENTRY]);
    /** The list page's first n entries at [n - 1]: lists are read without a slice made per read. */
    private final MemorySegment[] listPrefixes = DataRanges.prefixes(listPage, ENTRY);

    /** Walks into {@code ranges}, which hold at least {@link #rangesFor} ranges of the largest transfer. */
    PrpWalker(DataRanges ranges) {
        this.ranges = ranges;
    }

    /** A transfer of {@code maxBytes} (MDTS) takes at most maxBytes / page + 1 ranges. */
    static int rangesFor(int maxBytes) {
        return maxBytes / PAGE_SIZE + 1;
    }

    /**
     * Walks the PRPs of a transfer of {@code length} bytes; returns SC_SUCCESS or the status the
     * command fails with.
     */
    int walk(DmaView dma, long prp1, long prp2, int length) {
        ranges.clear();
        if (length <= 0) {
            return SC_SUCCESS;
        }
        if ((prp1 & 0x3) != 0) {
            return SC_PRP_OFFSET_INVALID;
        }
        int first = (int) Math.min(length, PAGE_SIZE - (prp1 & PAGE_MASK));
        if (!ranges.add(prp1, first)) {
            return SC_INVALID_FIELD;
        }
        int remaining = length - first;
        if (remaining == 0) {
            return SC_SUCCESS;
        }
        if (remaining <= PAGE_SIZE) {
            if ((prp2 & PAGE_MASK) != 0) {
                return SC_PRP_OFFSET_INVALID;
            }
            ranges.add(prp2, remaining);
            return SC_SUCCESS;
        }
        long list = prp2;
        if ((list & (ENTRY - 1)) != 0) {
            return SC_PRP_OFFSET_INVALID;
        }
        while (remaining > 0) {
            int slots = (int) ((PAGE_SIZE - (list & PAGE_MASK)) / ENTRY);
            int pagesLeft = (remaining + PAGE_SIZE - 1) / PAGE_SIZE;
            // The last slot chains to the next list page only when more entries follow than fit.
            boolean chains = pagesLeft > slots;
            int entries = chains ? slots : pagesLeft;
            try {
                dma.read(list, listPrefixes[entries - 1]);
            } catch (VfioException | RuntimeException e) {
                return SC_DATA_TRANSFER_ERROR;
            }
            int dataEntries = chains ? entries - 1 : entries;
            for (int i = 0; i < dataEntries; i++) {
                long page = listPage.getAtIndex(ValueLayout.JAVA_LONG, i);
                if ((page & PAGE_MASK) != 0) {
                    return SC_PRP_OFFSET_INVALID;
                }
                int n = Math.min(remaining, PAGE_SIZE);
                if (!ranges.add(page, n)) {
                    return SC_INVALID_FIELD;
                }
                remaining -= n;
            }
            if (chains) {
                list = listPage.getAtIndex(ValueLayout.JAVA_LONG, slots - 1);
                if ((list & PAGE_MASK) != 0) {
                    return SC_PRP_OFFSET_INVALID;
                }
            }
        }
        return SC_SUCCESS;
    }

    /** Copies between the walked ranges and {@code buffer}: {@link DataRanges#copy}. */
    int copy(DmaView dma, long skip, MemorySegment buffer, boolean toHost) {
        return ranges.copy(dma, skip, buffer, toHost);
    }
}
