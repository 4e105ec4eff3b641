package io.jvfio.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * Physical addresses of this process's memory, from {@code /proc/self/pagemap} (one 64-bit entry per
 * virtual page: bit 63 present, bit 62 swapped, bits 0-54 the page frame number). What a device
 * without an IOMMU needs, since it sees physical memory. The frame numbers read as 0 without
 * CAP_SYS_ADMIN (since Linux 4.2); that is reported as EPERM rather than as address 0.
 *
 * <p>An address holds only while the page stays where it is: lock the memory first
 * ({@link Linux#lockMemory}) and touch it so that it is present. Locked pages are not swapped, but
 * the kernel may still migrate them (compaction), so this is for tests and no-IOMMU setups that
 * accept that risk, as the kernel's own "unsafe" no-IOMMU mode says.
 */
public final class Pagemap {
    private Pagemap() {}

    private static final Path PAGEMAP = Path.of("/proc/self/pagemap");
    private static final long PRESENT = 1L << 63, SWAPPED = 1L << 62, PFN_MASK = (1L << 55) - 1;
    private static final int ENTRY_BYTES = 8;

    /** The page frame number of the page at virtual address {@code address}, from {@code entry}; checks as below. */
    static long frame(long entry, long address) throws LinuxException {
        if ((entry & PRESENT) == 0) {
            throw LinuxException.explained("pagemap", "page at 0x%x is not present%s (touch and lock it first)"
                    .formatted(address, (entry & SWAPPED) != 0 ? " (swapped out)" : ""), Errno.EFAULT);
        }
        long frame = entry & PFN_MASK;
        if (frame == 0) {
            throw LinuxException.explained("pagemap", "page frame numbers read as 0: they need CAP_SYS_ADMIN", Errno.EPERM);
        }
        return frame;
    }

    /** The physical address of byte {@code offset} of {@code memory} (native, present). */
    public static long physicalAddress(MemorySegment memory, long offset) throws LinuxException {
        long[] addresses = physicalAddresses(memory.asSlice(offset, 1));
        return addresses[0];
    }

    /**
     * The physical address of each page {@code memory} touches, in order, the first one at the
     * segment's own offset within its page (so {@code [0]} is the address of {@code memory}'s first byte).
     */
    public static long[] physicalAddresses(MemorySegment memory) throws LinuxException {
        if (!memory.isNative() || memory.byteSize() == 0) {
            throw new IllegalArgumentException("physical addresses of heap or empty memory");
        }
        long page = Linux.PAGE_SIZE;
        long start = memory.address();
        long firstPage = start / page, lastPage = (start + memory.byteSize() - 1) / page;
        int pages = Math.toIntExact(lastPage - firstPage + 1);
        long[] addresses = new long[pages];
        try (Fd fd = Linux.open(PAGEMAP, false); Arena arena = Arena.ofConfined()) {
            MemorySegment entries = arena.allocate((long) pages * ENTRY_BYTES, ENTRY_BYTES);
            long read = Linux.pread(fd, entries, firstPage * ENTRY_BYTES);
            if (read != entries.byteSize()) {
                throw LinuxException.explained("pagemap", "short read of %d bytes".formatted(read), Errno.EIO);
            }
            for (int i = 0; i < pages; i++) {
                long virtual = (firstPage + i) * page;
                long frame = frame(entries.getAtIndex(ValueLayout.JAVA_LONG, i), virtual);
                addresses[i] = frame * page + (i == 0 ? start % page : 0);
            }
        }
        return addresses;
    }
}
