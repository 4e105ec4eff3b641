package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.linux.IoVectors;
import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The host memory ranges of one command's data, in transfer order, as a {@link PrpWalker} or an
 * {@link SglWalker} found them, and the copy between them and a buffer. A range may be a bit
 * bucket (an SGL's discarded read data): it takes its share of the transfer and is never
 * written. Preallocated for the largest command; contiguous ranges are merged.
 */
final class DataRanges {
    /** The address of a bit bucket range: no data range can start there (it would wrap). */
    private static final long DISCARD = -1;

    private final long[] addresses;
    private final long[] lengths;
    private int count;

    DataRanges(int capacity) {
        addresses = new long[capacity];
        lengths = new long[capacity];
    }

    /** {@code buffer}'s prefixes of 1, 2, ... entries of {@code entrySize} bytes, made once. */
    static MemorySegment[] prefixes(MemorySegment buffer, int entrySize) {
        MemorySegment[] prefixes = new MemorySegment[(int) (buffer.byteSize() / entrySize)];
        for (int i = 0; i < prefixes.length; i++) {
            prefixes[i] = buffer.asSlice(0, (long) (i + 1) * entrySize);
        }
        return prefixes;
    }

    void clear() {
        count = 0;
    }

    /** Appends a range of host memory; false when it does not fit (too many ranges). */
    boolean add(long address, int length) {
        if (count > 0 && addresses[count - 1] != DISCARD && addresses[count - 1] + lengths[count - 1] == address) {
            lengths[count - 1] += length;
            return true;
        }
        return append(address, length);
    }

    /**
     * Moves the first {@code total} bytes straight between a store and mapped host memory (to
     * the host when {@code toHost}) with {@code io}; false, moving nothing, when that cannot be
     * (a bit bucket among the ranges, memory reached by message): the caller copies instead.
     */
    boolean transferMapped(DmaView dma, long total, boolean toHost, IoVectors vectors, DmaView.MappedTransfer io)
            throws IOException {
        for (int i = 0; i < count; i++) {
            if (addresses[i] == DISCARD) {
                return false;
            }
        }
        return dma.transferMapped(addresses, lengths, count, total, toHost, vectors, io);
    }

    /** Appends a bit bucket: {@code length} bytes of read data thrown away. */
    boolean discard(int length) {
        if (count > 0 && addresses[count - 1] == DISCARD) {
            lengths[count - 1] += length;
            return true;
        }
        return append(DISCARD, length);
    }

    private boolean append(long address, int length) {
        if (count == addresses.length) {
            return false;
        }
        addresses[count] = address;
        lengths[count] = length;
        count++;
        return true;
    }

    /**
     * Copies the ranges to host memory from {@code buffer} ({@code toHost}) or from them into it,
     * starting {@code skip} bytes into the transfer, for {@code buffer}'s size; SC_SUCCESS or Data
     * Transfer Error (host memory unreachable, or fewer bytes described than asked for).
     */
    int copy(DmaView dma, long skip, MemorySegment buffer, boolean toHost) {
        return copy(dma, skip, buffer, buffer.byteSize(), toHost);
    }

    /** {@link #copy(DmaView, long, MemorySegment, boolean)} of the first {@code total} bytes of {@code buffer}; allocates nothing. */
    int copy(DmaView dma, long skip, MemorySegment buffer, long total, boolean toHost) {
        long done = 0;
        try {
            for (int i = 0; i < count && done < total; i++) {
                long length = lengths[i];
                if (skip >= length) {
                    skip -= length;
                    continue;
                }
                long n = Math.min(length - skip, total - done);
                if (addresses[i] != DISCARD) {
                    if (toHost) {
                        dma.write(addresses[i] + skip, buffer, done, n);
                    } else {
                        dma.read(addresses[i] + skip, buffer, done, n);
                    }
                } else if (!toHost) {
                    return SC_DATA_TRANSFER_ERROR;   // walkers allow bit buckets for reads only
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
