package io.jvfio.nvme.perf;

/**
 * Latencies in nanoseconds, counted in log-linear buckets (HdrHistogram's layout, smaller): exact
 * below 32 ns, then 32 buckets per power of two, so a percentile is off by at most 1/32 (3 %).
 * Preallocated; {@link #record} is a few arithmetic operations and an array increment, nothing
 * allocated. Not thread-safe: one per thread, {@link #add}ed together at the end.
 */
public final class LatencyHistogram {
    private static final int SUB_BUCKET_BITS = 5, SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
    /** Exact buckets 0..31, then 32 per shift 0..58 (values up to 2^63). */
    private static final int BUCKETS = SUB_BUCKETS + (64 - SUB_BUCKET_BITS) * SUB_BUCKETS;

    private final long[] counts = new long[BUCKETS];
    private long count, sum, min = Long.MAX_VALUE, max;

    /** Counts one latency ({@code nanos} below 0 counts as 0). */
    public void record(long nanos) {
        long value = Math.max(0, nanos);
        counts[index(value)]++;
        count++;
        sum += value;
        min = Math.min(min, value);
        max = Math.max(max, value);
    }

    static int index(long value) {
        if (value < SUB_BUCKETS) {
            return (int) value;
        }
        int shift = 63 - Long.numberOfLeadingZeros(value) - SUB_BUCKET_BITS;
        return SUB_BUCKETS + shift * SUB_BUCKETS + (int) (value >>> shift) - SUB_BUCKETS;
    }

    /** The highest value bucket {@code index} holds. */
    static long highest(int index) {
        if (index < SUB_BUCKETS) {
            return index;
        }
        int shift = (index - SUB_BUCKETS) / SUB_BUCKETS;
        long low = (long) ((index - SUB_BUCKETS) % SUB_BUCKETS + SUB_BUCKETS) << shift;
        return low + (1L << shift) - 1;
    }

    /** Adds {@code other}'s counts to this one's. */
    public void add(LatencyHistogram other) {
        for (int i = 0; i < BUCKETS; i++) {
            counts[i] += other.counts[i];
        }
        count += other.count;
        sum += other.sum;
        min = Math.min(min, other.min);
        max = Math.max(max, other.max);
    }

    /** Forgets everything counted (the end of a warm-up). */
    public void reset() {
        java.util.Arrays.fill(counts, 0);
        count = 0;
        sum = 0;
        min = Long.MAX_VALUE;
        max = 0;
    }

    public long count() {
        return count;
    }

    /** The smallest latency counted (0 when none was). */
    public long min() {
        return count == 0 ? 0 : min;
    }

    public long max() {
        return max;
    }

    public double mean() {
        return count == 0 ? 0 : (double) sum / count;
    }

    /**
     * The latency at or below which {@code percent} of the counted ones lie (the highest value of
     * that bucket, within the minimum and the maximum); 0 when nothing was counted.
     */
    public long percentile(double percent) {
        if (percent < 0 || percent > 100) {
            throw new IllegalArgumentException("a percentile of " + percent);
        }
        if (count == 0) {
            return 0;
        }
        long rank = Math.max(1, (long) Math.ceil(percent / 100 * count));
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts[i];
            if (seen >= rank) {
                return Math.max(min, Math.min(highest(i), max));
            }
        }
        return max;
    }
}
