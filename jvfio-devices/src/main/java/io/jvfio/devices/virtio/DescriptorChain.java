package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.DESC_ADDR;
import static io.jvfio.devices.virtio.Virtio.DESC_FLAGS;
import static io.jvfio.devices.virtio.Virtio.DESC_F_INDIRECT;
import static io.jvfio.devices.virtio.Virtio.DESC_F_NEXT;
import static io.jvfio.devices.virtio.Virtio.DESC_F_WRITE;
import static io.jvfio.devices.virtio.Virtio.DESC_LEN;
import static io.jvfio.devices.virtio.Virtio.DESC_NEXT;
import static io.jvfio.devices.virtio.Virtio.DESC_SIZE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One request's buffers: the descriptor chain starting at a head index, walked (through an
 * indirect table if there is one) into flat arrays of guest address, length and direction.
 * Walking enforces what §2.7.5.3 asks of a device: every index inside its table, no more
 * descriptors than the table holds (so a loop ends as a fault), no nested indirect tables,
 * device-readable buffers before device-writable ones, and a bound on the total length.
 * Reused for every request of a worker: nothing is allocated per request.
 */
final class DescriptorChain {
    /** Bound on the bytes one request may cover; larger chains are treated as malformed. */
    static final long MAX_TOTAL_BYTES = 256L << 20;

    private final long[] addresses;
    private final int[] lengths;
    private final boolean[] writable;
    private final MemorySegment indirectBounce;
    private int count;
    private int head;

    DescriptorChain(int maxDescriptors) {
        addresses = new long[maxDescriptors];
        lengths = new int[maxDescriptors];
        writable = new boolean[maxDescriptors];
        indirectBounce = MemorySegment.ofArray(new long[maxDescriptors * DESC_SIZE / Long.BYTES]);
    }

    int head() {
        return head;
    }

    int count() {
        return count;
    }

    long address(int i) {
        return addresses[i];
    }

    int length(int i) {
        return lengths[i];
    }

    boolean isWritable(int i) {
        return writable[i];
    }

    /**
     * Walks the chain at {@code headIndex} of a descriptor table of {@code tableSize} entries.
     *
     * @param indirectAllowed whether RING_INDIRECT_DESC was negotiated
     */
    void walk(GuestMemory memory, GuestMemory.View table, int tableSize, int headIndex, boolean indirectAllowed)
            throws VirtioFault {
        head = headIndex;
        count = 0;
        if (headIndex >= tableSize) {
            throw new VirtioFault("head index %d outside a queue of %d".formatted(headIndex, tableSize));
        }
        int flags = (int) table.u16((long) headIndex * DESC_SIZE + DESC_FLAGS);
        if ((flags & DESC_F_INDIRECT) != 0) {
            if (!indirectAllowed) {
                throw new VirtioFault("indirect descriptor without RING_INDIRECT_DESC");
            }
            if ((flags & DESC_F_NEXT) != 0) {
                throw new VirtioFault("indirect descriptor with NEXT set");
            }
            long tableAddress = table.u64((long) headIndex * DESC_SIZE + DESC_ADDR);
            long tableBytes = table.u32((long) headIndex * DESC_SIZE + DESC_LEN);
            if (tableBytes == 0 || tableBytes % DESC_SIZE != 0 || tableBytes / DESC_SIZE > addresses.length) {
                throw new VirtioFault("indirect table of %d bytes".formatted(tableBytes));
            }
            int entries = (int) (tableBytes / DESC_SIZE);
            GuestMemory.View indirect = memory.view(tableAddress, tableBytes, false);
            if (!indirect.isMapped()) {
                // One message for the whole table instead of one per field.
                MemorySegment copy = indirectBounce.asSlice(0, tableBytes);
                memory.read(tableAddress, copy);
                follow(new SegmentTable(copy), entries, 0, false);
            } else {
                follow(new ViewTable(indirect), entries, 0, false);
            }
            return;
        }
        follow(new ViewTable(table), tableSize, headIndex, indirectAllowed);
    }

    private void follow(Table table, int tableSize, int index, boolean outerTable) throws VirtioFault {
        long total = 0;
        boolean sawWritable = false;
        while (true) {
            if (count == addresses.length || count == tableSize) {
                throw new VirtioFault("descriptor chain longer than its table (a loop?)");
            }
            long base = (long) index * DESC_SIZE;
            int flags = table.u16(base + DESC_FLAGS);
            if ((flags & DESC_F_INDIRECT) != 0) {
                throw new VirtioFault(outerTable ? "indirect descriptor inside a chain" : "nested indirect table");
            }
            boolean write = (flags & DESC_F_WRITE) != 0;
            if (sawWritable && !write) {
                throw new VirtioFault("device-readable descriptor after a device-writable one");
            }
            sawWritable |= write;
            long length = table.u32(base + DESC_LEN);
            total += length;
            if (total > MAX_TOTAL_BYTES) {
                throw new VirtioFault("request of more than %d bytes".formatted(MAX_TOTAL_BYTES));
            }
            addresses[count] = table.u64(base + DESC_ADDR);
            lengths[count] = (int) length;
            writable[count] = write;
            count++;
            if ((flags & DESC_F_NEXT) == 0) {
                return;
            }
            index = table.u16(base + DESC_NEXT);
            if (index >= tableSize) {
                throw new VirtioFault("next index %d outside a table of %d".formatted(index, tableSize));
            }
        }
    }

    /** A descriptor table read in place or from a copy. */
    private interface Table {
        int u16(long offset) throws VirtioFault;

        long u32(long offset) throws VirtioFault;

        long u64(long offset) throws VirtioFault;
    }

    private record ViewTable(GuestMemory.View view) implements Table {
        public int u16(long offset) throws VirtioFault {
            return view.u16(offset);
        }

        public long u32(long offset) throws VirtioFault {
            return view.u32(offset);
        }

        public long u64(long offset) throws VirtioFault {
            return view.u64(offset);
        }
    }

    private record SegmentTable(MemorySegment copy) implements Table {
        public int u16(long offset) {
            return Short.toUnsignedInt(copy.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset));
        }

        public long u32(long offset) {
            return Integer.toUnsignedLong(copy.get(ValueLayout.JAVA_INT_UNALIGNED, offset));
        }

        public long u64(long offset) {
            return copy.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
        }
    }
}
