package io.jvfio.client.kernel;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.Pagemap;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;

/**
 * DMA memory for a device without an IOMMU, which reaches memory by physical address: locked, its
 * physical address read from pagemap, and physically contiguous. Buffers larger than a page come
 * from huge pages (each one contiguous, {@link #HUGE_PAGE} on x86-64) when the system has some
 * reserved ({@code vm.nr_hugepages}); otherwise only a buffer whose pages happen to follow each
 * other works. Locked pages are not swapped, though the kernel may still migrate them: that is part
 * of what makes no-IOMMU mode unsafe.
 */
final class PhysicalMemory {
    private static final System.Logger LOG = System.getLogger(PhysicalMemory.class.getName());
    /** The default huge page of x86-64. */
    static final long HUGE_PAGE = 2L << 20;

    private PhysicalMemory() {}

    /** {@code size} bytes (or more: whole huge pages) of locked, physically contiguous memory. */
    static Mapping allocate(String name, long size) throws IOException {
        if (size > Linux.PAGE_SIZE && size <= HUGE_PAGE) {
            try (Fd huge = Memfd.createHugeTlb(name, HUGE_PAGE)) {
                return located(Mapping.map(huge, 0, HUGE_PAGE, true));
            } catch (LinuxException e) {
                LOG.log(Level.DEBUG, "no huge page for {0} ({1}); trying small pages", name, e.getMessage());
            }
        }
        try (Fd memfd = Memfd.create(name, size)) {
            return located(Mapping.map(memfd, 0, size, true));
        }
    }

    /** {@code mapping}, once locked and found contiguous; else it is unmapped and the reason thrown. */
    private static Mapping located(Mapping mapping) throws IOException {
        try {
            address(mapping.segment());
            return mapping;
        } catch (IOException | RuntimeException e) {
            mapping.close();
            throw e;
        }
    }

    /** Locks {@code memory} and returns its physical address; ENOMEM unless its pages are physically contiguous. */
    static long address(MemorySegment memory) throws IOException {
        long[] pages;
        try {
            Linux.lockMemory(memory);
            pages = Pagemap.physicalAddresses(memory);
        } catch (LinuxException e) {
            throw Ioctls.failed("no-IOMMU DMA memory", e);
        }
        for (int i = 1; i < pages.length; i++) {
            if (pages[i] != (pages[0] & -Linux.PAGE_SIZE) + i * Linux.PAGE_SIZE) {
                throw new KernelVfioException(Errno.ENOMEM, ("no-IOMMU: DMA memory of %d pages is not physically contiguous "
                        + "(page %d is at 0x%x): reserve huge pages (vm.nr_hugepages) or use buffers of one page")
                        .formatted(pages.length, i, pages[i]));
            }
        }
        return pages[0];
    }
}
