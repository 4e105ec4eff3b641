package io.jvfio.client.kernel;

import java.util.List;

/** A window of IOVAs the IOMMU lets a device use, {@code [start, last]} (last inclusive, unsigned). */
public record IovaRange(long start, long last) {
    /** Whether {@code [iova, iova + size)} (size &gt; 0) lies inside this window. */
    public boolean contains(long iova, long size) {
        long end = iova + size - 1;
        return size > 0 && Long.compareUnsigned(end, iova) >= 0 && Long.compareUnsigned(iova, start) >= 0
                && Long.compareUnsigned(end, last) <= 0;
    }

    /** Why {@code [iova, iova + size)} is not inside one of {@code ranges}; null when it is. */
    static String outside(List<IovaRange> ranges, long iova, long size) {
        for (IovaRange r : ranges) {
            if (r.contains(iova, size)) {
                return null;
            }
        }
        return "IOVA [0x%x, +0x%x) is outside the ranges the IOMMU allows: %s".formatted(iova, size, ranges);
    }

    @Override
    public String toString() {
        return "[0x%x, 0x%x]".formatted(start, last);
    }
}
