package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.ControllerRegisters.PAGE_SIZE;
import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Turns a command's scatter gather list (§4.4, PSDT 01b) into the host memory ranges of its data.
 * SGL1 in the entry is a Data Block (or a read's Bit Bucket) for the whole transfer, or a Segment
 * or Last Segment descriptor pointing to a segment of descriptors in host memory; a Segment's
 * segment ends with the descriptor of the next one, a Last Segment's holds data descriptors only.
 * What Identify SGLS advertises is what is accepted: data blocks at any byte address and length,
 * bit buckets for reads, segments qword aligned; no keyed, transport or offset descriptors.
 *
 * <p>Every descriptor is checked, with the status §4.4 and §4.6.1.2 name:
 * <ul>
 * <li>an unsupported type or subtype, or a bit bucket in a write: SGL Descriptor Type Invalid;
 * <li>a segment of no descriptors, of a length not a multiple of 16, not qword aligned, or a Last
 *     Segment's segment ending in another segment descriptor, or a Segment's not: Invalid SGL
 *     Segment Descriptor;
 * <li>a segment descriptor before the end of a segment, or more descriptors than
 *     {@link #MAX_DESCRIPTORS} (which also bounds a chain that loops) or data ranges than the
 *     walker holds: Invalid Number of SGL Descriptors;
 * <li>data blocks and bit buckets describing more or fewer bytes than the command transfers (SGLS
 *     bit 18 is clear), or a block that wraps the address space: Data SGL Length Invalid;
 * <li>a segment that cannot be read: Data Transfer Error.
 * </ul>
 * Zero-length data blocks are allowed and move nothing. One walker per queue worker, reused:
 * segments are read a page of descriptors at a time into a preallocated buffer.
 */
final class SglWalker {
    /** Descriptors one command's SGL may hold in all its segments: bounds the walk of a looping chain. */
    static final int MAX_DESCRIPTORS = 4096;
    /** Non-contiguous data ranges one command may have (Linux uses at most 256 data blocks, one segment). */
    static final int MAX_DATA_RANGES = 1024;
    private static final int CHUNK_DESCRIPTORS = PAGE_SIZE / SGL_DESCRIPTOR_SIZE;
    private static final long SEGMENT_ALIGNMENT = Long.BYTES;
    private static final int NO_NEXT = -1;

    private final DataRanges ranges;
    private final MemorySegment chunk = MemorySegment.ofArray(new long[PAGE_SIZE / Long.BYTES]);
    /** The chunk's first n descriptors at [n - 1]: a segment is read without a slice made per read. */
    private final MemorySegment[] chunkPrefixes = DataRanges.prefixes(chunk, SGL_DESCRIPTOR_SIZE);
    // One walk's state: bytes still to describe, the direction, and the descriptor that ended the
    // segment just read when it chains to another (NO_NEXT when it does not).
    private long remaining;
    private boolean read;
    private long nextAddress;
    private int nextBytes, nextIdentifier;

    /** Walks into {@code ranges}, which hold at least {@link #MAX_DATA_RANGES} ranges. */
    SglWalker(DataRanges ranges) {
        this.ranges = ranges;
    }

    /**
     * Walks the SGL whose first descriptor is at {@code offset} in {@code entry} (SGL1 of a
     * submission queue entry) for a transfer of {@code length} bytes, to host memory when
     * {@code read}; returns SC_SUCCESS or the status the command fails with.
     */
    int walk(DmaView dma, MemorySegment entry, long offset, int length, boolean read) {
        ranges.clear();
        this.remaining = length;
        this.read = read;
        long address = entry.get(ValueLayout.JAVA_LONG_UNALIGNED, offset + SGL_ADDRESS);
        int bytes = entry.get(ValueLayout.JAVA_INT_UNALIGNED, offset + SGL_LENGTH);
        int identifier = Byte.toUnsignedInt(entry.get(ValueLayout.JAVA_BYTE, offset + SGL_IDENTIFIER));
        int type = identifier >>> SGL_TYPE_SHIFT;
        int status = type == SGL_SEGMENT || type == SGL_LAST_SEGMENT
                ? segments(dma, address, bytes, identifier)
                : data(address, bytes, identifier);
        if (status == SC_SUCCESS && remaining != 0) {
            status = SC_DATA_SGL_LENGTH_INVALID;   // the SGL describes less than the command transfers
        }
        return status;
    }

    /** Follows a chain of segments from the (Last) Segment descriptor {@code address, bytes, identifier}. */
    private int segments(DmaView dma, long address, int bytes, int identifier) {
        int budget = MAX_DESCRIPTORS;
        while (true) {
            long segmentBytes = Integer.toUnsignedLong(bytes);
            if ((identifier & 0xf) != SGL_SUBTYPE_ADDRESS) {
                return SC_SGL_DESCRIPTOR_TYPE_INVALID;
            }
            if (segmentBytes == 0 || segmentBytes % SGL_DESCRIPTOR_SIZE != 0 || (address & (SEGMENT_ALIGNMENT - 1)) != 0
                    || Long.compareUnsigned(address, -segmentBytes) > 0) {
                return SC_INVALID_SGL_SEGMENT_DESCRIPTOR;
            }
            long count = segmentBytes / SGL_DESCRIPTOR_SIZE;
            if (count > budget) {
                return SC_INVALID_SGL_DESCRIPTOR_COUNT;
            }
            budget -= (int) count;
            boolean last = identifier >>> SGL_TYPE_SHIFT == SGL_LAST_SEGMENT;
            nextIdentifier = NO_NEXT;
            int status = segment(dma, address, count, last);
            if (status != SC_SUCCESS || last) {
                return status;
            }
            if (nextIdentifier == NO_NEXT) {
                return SC_INVALID_SGL_SEGMENT_DESCRIPTOR;   // a Segment must chain: this should have been a Last Segment
            }
            address = nextAddress;
            bytes = nextBytes;
            identifier = nextIdentifier;
        }
    }

    /**
     * Reads a segment of {@code count} descriptors, a page of them at a time: its data descriptors
     * join the ranges; a segment descriptor that ends it is kept as the next one to follow.
     */
    private int segment(DmaView dma, long address, long count, boolean last) {
        for (long first = 0; first < count; first += CHUNK_DESCRIPTORS) {
            int n = (int) Math.min(CHUNK_DESCRIPTORS, count - first);
            try {
                dma.read(address + first * SGL_DESCRIPTOR_SIZE, chunkPrefixes[n - 1]);
            } catch (VfioException | RuntimeException e) {
                return SC_DATA_TRANSFER_ERROR;
            }
            for (int i = 0; i < n; i++) {
                long at = (long) i * SGL_DESCRIPTOR_SIZE;
                long descriptorAddress = chunk.get(ValueLayout.JAVA_LONG_UNALIGNED, at + SGL_ADDRESS);
                int descriptorBytes = chunk.get(ValueLayout.JAVA_INT_UNALIGNED, at + SGL_LENGTH);
                int descriptor = Byte.toUnsignedInt(chunk.get(ValueLayout.JAVA_BYTE, at + SGL_IDENTIFIER));
                int type = descriptor >>> SGL_TYPE_SHIFT;
                if (type == SGL_SEGMENT || type == SGL_LAST_SEGMENT) {
                    if (first + i != count - 1) {
                        return SC_INVALID_SGL_DESCRIPTOR_COUNT;   // a segment descriptor ends its segment
                    }
                    if (last) {
                        return SC_INVALID_SGL_SEGMENT_DESCRIPTOR;   // the last segment chains no further
                    }
                    nextAddress = descriptorAddress;
                    nextBytes = descriptorBytes;
                    nextIdentifier = descriptor;
                    continue;
                }
                int status = data(descriptorAddress, descriptorBytes, descriptor);
                if (status != SC_SUCCESS) {
                    return status;
                }
            }
        }
        return SC_SUCCESS;
    }

    /** A data descriptor: a Data Block, or a Bit Bucket in a read. */
    private int data(long address, int bytes, int identifier) {
        int type = identifier >>> SGL_TYPE_SHIFT;
        if ((identifier & 0xf) != SGL_SUBTYPE_ADDRESS || type != SGL_DATA_BLOCK && (type != SGL_BIT_BUCKET || !read)) {
            return SC_SGL_DESCRIPTOR_TYPE_INVALID;
        }
        long length = Integer.toUnsignedLong(bytes);
        if (length == 0) {
            return SC_SUCCESS;
        }
        if (length > remaining) {
            return SC_DATA_SGL_LENGTH_INVALID;   // more than the command transfers
        }
        boolean added;
        if (type == SGL_BIT_BUCKET) {
            added = ranges.discard((int) length);
        } else if (Long.compareUnsigned(address, -length) > 0) {
            return SC_DATA_SGL_LENGTH_INVALID;   // the block would wrap past the top of the address space
        } else {
            added = ranges.add(address, (int) length);
        }
        if (!added) {
            return SC_INVALID_SGL_DESCRIPTOR_COUNT;
        }
        remaining -= length;
        return SC_SUCCESS;
    }
}
