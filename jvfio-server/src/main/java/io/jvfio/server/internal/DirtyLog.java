package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.server.VfioException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * DMA dirty logging (DEVICE_FEATURE DMA_LOGGING_START/STOP/REPORT): one bit per logged page of each
 * tracked IOVA range, set after the device wrote there, read and cleared by a report. Reports may
 * ask for any power-of-two page size: a report page is dirty when any logged page overlapping it
 * is. Only logged pages wholly inside a reported range are cleared, so a report never loses a
 * write it did not show. Marking is lock-free (one atomic OR per word).
 */
final class DirtyLog {
    /** Smallest page logged (and the granularity of segments handed out for writing). */
    static final long MIN_PAGE_SIZE = 4096;
    /** Most bitmap memory one log may take; beyond it the page size grows (the client is told). */
    static final long MAX_BITMAP_BYTES = 64L << 20;

    private final int shift;
    private final boolean everything;
    private final List<Range> ranges = new CopyOnWriteArrayList<>();
    private long bitmapBytes;

    private record Range(long first, long last, AtomicLongArray bits, boolean allDirty) {
        boolean overlaps(long from, long to) {
            return Long.compareUnsigned(from, last) <= 0 && Long.compareUnsigned(to, first) >= 0;
        }
    }

    private DirtyLog(long pageSize, boolean everything) {
        this.shift = Long.numberOfTrailingZeros(pageSize);
        this.everything = everything;
    }

    /**
     * A log of {@code ranges} (inclusive [first, last] pairs) at {@code requestedPageSize} or the
     * smallest larger power of two whose bitmaps fit {@link #MAX_BITMAP_BYTES}.
     */
    static DirtyLog start(long requestedPageSize, List<long[]> ranges, boolean everything) throws VfioException {
        if (requestedPageSize <= 0 || Long.bitCount(requestedPageSize) != 1) {
            throw VfioException.invalid("dirty page size " + Long.toUnsignedString(requestedPageSize) + " is not a power of two");
        }
        long pageSize = Math.max(requestedPageSize, MIN_PAGE_SIZE);
        while (bytesFor(ranges, pageSize) > MAX_BITMAP_BYTES) {
            if (pageSize >= 1L << 62) {
                throw new VfioException(Errno.E2BIG, "dirty logging ranges are too large");
            }
            pageSize <<= 1;
        }
        DirtyLog log = new DirtyLog(pageSize, everything);
        for (long[] r : ranges) {
            log.track(r[0], r[1]);
        }
        return log;
    }

    private static long bytesFor(List<long[]> ranges, long pageSize) {
        long total = 0;
        for (long[] r : ranges) {
            total += words(r[0], r[1], Long.numberOfTrailingZeros(pageSize)) * 8;
        }
        return total;
    }

    private static long words(long first, long last, int shift) {
        long pages = (last >>> shift) - (first >>> shift) + 1;
        return (pages + 63) >>> 6;
    }

    long pageSize() {
        return 1L << shift;
    }

    /** Whether windows mapped later are logged too (START with no ranges). */
    boolean logsEverything() {
        return everything;
    }

    /** Starts tracking [first, last]; past the memory budget the range is reported wholly dirty, always. */
    synchronized void track(long first, long last) {
        long words = words(first, last, shift);
        if (bitmapBytes + words * 8 > MAX_BITMAP_BYTES || words > Integer.MAX_VALUE) {
            ranges.add(new Range(first, last, null, true));
            return;
        }
        bitmapBytes += words * 8;
        ranges.add(new Range(first, last, new AtomicLongArray((int) words), false));
    }

    /** The device wrote [iova, iova + length). */
    void mark(long iova, long length) {
        if (length <= 0) {
            return;
        }
        long last = iova + length - 1;
        for (Range r : ranges) {
            if (r.allDirty || !r.overlaps(iova, last)) {
                continue;
            }
            long from = Long.compareUnsigned(iova, r.first) > 0 ? iova : r.first;
            long to = Long.compareUnsigned(last, r.last) < 0 ? last : r.last;
            long base = r.first >>> shift;
            for (long page = (from >>> shift) - base, end = (to >>> shift) - base; page <= end; page++) {
                int word = (int) (page >>> 6);
                long bit = 1L << (page & 63);
                if ((r.bits.get(word) & bit) == 0) {
                    r.bits.getAndAccumulate(word, bit, (a, b) -> a | b);
                }
            }
        }
    }

    /**
     * The bitmap of [iova, iova + length) at {@code reportPageSize} as little-endian u64 words
     * (bit i = page {@code iova + i * reportPageSize}), clearing the logged pages wholly inside it.
     */
    long[] reportAndClear(long iova, long length, long reportPageSize) {
        long reportPages = Long.divideUnsigned(length - 1, reportPageSize) + 1;
        long[] out = new long[(int) ((reportPages + 63) >>> 6)];
        long last = iova + length - 1;
        int reportShift = Long.numberOfTrailingZeros(reportPageSize);
        for (Range r : ranges) {
            if (!r.overlaps(iova, last)) {
                continue;
            }
            long from = Long.compareUnsigned(iova, r.first) > 0 ? iova : r.first;
            long to = Long.compareUnsigned(last, r.last) < 0 ? last : r.last;
            if (r.allDirty) {
                setReportBits(out, (from - iova) >>> reportShift, (to - iova) >>> reportShift);
                continue;
            }
            long base = r.first >>> shift;
            long firstPage = (from >>> shift) - base, lastPage = (to >>> shift) - base;
            for (long page = firstPage; page <= lastPage; ) {
                int word = (int) (page >>> 6);
                long wordFirst = (long) word << 6;
                long lo = Math.max(page, wordFirst), hi = Math.min(lastPage, wordFirst + 63);
                long touched = bitsBetween(lo - wordFirst, hi - wordFirst);
                long clear = 0;
                for (long p = lo; p <= hi; p++) {
                    long start = (p + base) << shift, end = start + (1L << shift) - 1;
                    if (Long.compareUnsigned(start, iova) >= 0 && Long.compareUnsigned(end, last) <= 0) {
                        clear |= 1L << (p & 63);
                    }
                }
                final long clearMask = clear;
                long old = r.bits.getAndAccumulate(word, ~clearMask, (a, b) -> a & b) & touched;
                for (long bits = old; bits != 0; bits &= bits - 1) {
                    long p = wordFirst + Long.numberOfTrailingZeros(bits);
                    long start = (p + base) << shift, end = start + (1L << shift) - 1;
                    long s = Long.compareUnsigned(start, iova) > 0 ? start : iova;
                    long e = Long.compareUnsigned(end, last) < 0 ? end : last;
                    setReportBits(out, (s - iova) >>> reportShift, (e - iova) >>> reportShift);
                }
                page = hi + 1;
            }
        }
        return out;
    }

    private static long bitsBetween(long lo, long hi) {
        long upTo = hi == 63 ? -1L : (1L << (hi + 1)) - 1;
        return upTo & ~((1L << lo) - 1);
    }

    private static void setReportBits(long[] out, long first, long last) {
        for (long i = first; i <= last; i++) {
            out[(int) (i >>> 6)] |= 1L << (i & 63);
        }
    }
}
