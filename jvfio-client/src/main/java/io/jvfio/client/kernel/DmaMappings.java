package io.jvfio.client.kernel;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Linux;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The DMA mappings a kernel device made, kept so that a bad request is refused with a clear message
 * before the kernel sees it: an IOVA outside the IOMMU's ranges, a range not page-aligned, one that
 * overlaps a mapping (EEXIST), or an unmap of something never mapped (ENOENT) or of part of a
 * mapping (type1v2 and iommufd refuse to split one).
 */
final class DmaMappings {
    /** iova → size. */
    private final TreeMap<Long, Long> mappings = new TreeMap<>(Long::compareUnsigned);

    /** Records [iova, iova + size), checked against {@code ranges} and what is mapped. */
    synchronized void add(long iova, long size, List<IovaRange> ranges) throws KernelVfioException {
        long page = Linux.PAGE_SIZE;
        if (size <= 0 || (iova & (page - 1)) != 0 || (size & (page - 1)) != 0) {
            throw new KernelVfioException(Errno.EINVAL, "DMA [0x%x, +0x%x) is not whole pages of 0x%x bytes"
                    .formatted(iova, size, page));
        }
        String outside = IovaRange.outside(ranges, iova, size);
        if (outside != null) {
            throw new KernelVfioException(Errno.EINVAL, outside);
        }
        Map.Entry<Long, Long> below = mappings.floorEntry(iova + size - 1);
        if (below != null && Long.compareUnsigned(below.getKey() + below.getValue(), iova) > 0) {
            throw new KernelVfioException(Errno.EEXIST, "DMA [0x%x, +0x%x) overlaps the mapping [0x%x, +0x%x)"
                    .formatted(iova, size, below.getKey(), below.getValue()));
        }
        mappings.put(iova, size);
    }

    /** Forgets the mapping [iova, iova + size), which must be one whole mapping. */
    synchronized void remove(long iova, long size) throws KernelVfioException {
        Long mapped = mappings.get(iova);
        if (mapped == null) {
            throw new KernelVfioException(Errno.ENOENT, "no DMA mapping starts at 0x%x: that memory was never mapped (or is unmapped already)"
                    .formatted(iova));
        }
        if (mapped != size) {
            throw new KernelVfioException(Errno.EINVAL, "DMA unmap [0x%x, +0x%x) is not the whole mapping [0x%x, +0x%x)"
                    .formatted(iova, size, iova, mapped));
        }
        mappings.remove(iova);
    }

    /** Forgets every mapping; returns them as {iova, size} pairs. */
    synchronized List<long[]> clear() {
        List<long[]> all = new ArrayList<>();
        mappings.forEach((iova, size) -> all.add(new long[] {iova, size}));
        mappings.clear();
        return all;
    }
}
