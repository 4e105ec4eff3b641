package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.Nvme.*;

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
 * preallocated, and {@link #copy} moves data between them and a buffer.
 */
final class PrpWalker {
    private static final long PAGE_MASK = PAGE_SIZE - 1;
    private static final int ENTRY = Long.BYTES;

    private final long[] addresses;
    private final int[] lengths;
    private final MemorySegment listPage = MemorySegment.ofArray(new long[PAGE_SIZE / ENTRY]);
    private int count;

    /** @param maxBytes the largest transfer (MDTS): at most maxBytes / page + 1 ranges */
    PrpWalker(int maxBytes) {
        int ranges = maxBytes / PAGE_SIZE + 1;
        addresses = new long[ranges];
        lengths = new int[ranges];
    }

    /**
     * Walks the PRPs of a transfer of {@code length} bytes; returns SC_SUCCESS or the status the
     * command fails with.
     */
    int walk(DmaView dma, long prp1, long prp2, int length) {
        count = 0;
        if (length <= 0) {
            return SC_SUCCESS;
        }
        if ((prp1 & 0x3) != 0) {
            return SC_PRP_OFFSET_INVALID;
        }
        int first = (int) Math.min(length, PAGE_SIZE - (prp1 & PAGE_MASK));
        if (!add(prp1, first)) {
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
            add(prp2, remaining);
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
                dma.read(list, listPage.asSlice(0, (long) entries * ENTRY));
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
                if (!add(page, n)) {
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

    /** Appends a range, merging it with the previous one when contiguous; false when the transfer is too long. */
    private boolean add(long address, int length) {
        if (count > 0 && addresses[count - 1] + lengths[count - 1] == address) {
            lengths[count - 1] += length;
            return true;
        }
        if (count == addresses.length) {
            return false;
        }
        addresses[count] = address;
        lengths[count] = length;
        count++;
        return true;
    }

    /**
     * Copies the walked ranges to host memory from {@code buffer} ({@code toHost}) or from them
     * into it, starting {@code skip} bytes into the transfer, for {@code buffer}'s size; SC_SUCCESS
     * or Data Transfer Error.
     */
    int copy(DmaView dma, long skip, MemorySegment buffer, boolean toHost) {
        long done = 0, total = buffer.byteSize();
        try {
            for (int i = 0; i < count && done < total; i++) {
                long length = lengths[i];
                if (skip >= length) {
                    skip -= length;
                    continue;
                }
                long n = Math.min(length - skip, total - done);
                MemorySegment part = buffer.asSlice(done, n);
                if (toHost) {
                    dma.write(addresses[i] + skip, part);
                } else {
                    dma.read(addresses[i] + skip, part);
                }
                skip = 0;
                done += n;
            }
        } catch (VfioException | RuntimeException e) {
            return SC_DATA_TRANSFER_ERROR;
        }
        return done == total ? SC_SUCCESS : SC_DATA_TRANSFER_ERROR;
    }
}
