package io.jvfio.nvme.perf;

import java.util.Locale;

/**
 * What a perf run measured, over its measured part only (not the warm-up): commands completed,
 * IOPS, MiB/s and latency from submission to the completion being seen, in nanoseconds.
 *
 * @param reads, writes    commands completed with success
 * @param errors           commands completed with an error status
 * @param seconds          the measured time
 * @param allocatedBytesPerIo bytes the I/O threads allocated per command, or -1 when not counted
 */
public record PerfResult(PerfOptions options, long reads, long writes, long errors, double seconds, long latencyMin,
        double latencyMean, long latencyP50, long latencyP99, long latencyP999, long latencyMax, double allocatedBytesPerIo) {

    static PerfResult of(PerfOptions options, long reads, long writes, long errors, double seconds, LatencyHistogram latency,
            double allocatedBytesPerIo) {
        return new PerfResult(options, reads, writes, errors, seconds, latency.min(), latency.mean(), latency.percentile(50),
                latency.percentile(99), latency.percentile(99.9), latency.max(), allocatedBytesPerIo);
    }

    public long ios() {
        return reads + writes;
    }

    public double iops() {
        return ios() / seconds;
    }

    public double mibPerSecond() {
        return iops() * options.ioBytes() / (1 << 20);
    }

    /** spdk_nvme_perf's summary, in microseconds. */
    public String summary() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%s %d B, queue depth %d, %d thread%s, %s, namespace %d, %.1f s%n",
                options.pattern().word(), options.ioBytes(), options.queueDepth(), options.threads(),
                options.threads() == 1 ? "" : "s", options.interrupts() ? "interrupts" : "polled", options.nsid(), seconds));
        s.append(String.format(Locale.ROOT, "%-12s %,14.0f%n", "IOPS", iops()));
        s.append(String.format(Locale.ROOT, "%-12s %14.1f%n", "MiB/s", mibPerSecond()));
        s.append(String.format(Locale.ROOT, "%-12s %,14d (%,d reads, %,d writes, %,d errors)%n", "commands", ios(), reads,
                writes, errors));
        s.append(String.format(Locale.ROOT, "latency µs   min %.2f  avg %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n",
                latencyMin / 1e3, latencyMean / 1e3, latencyP50 / 1e3, latencyP99 / 1e3, latencyP999 / 1e3, latencyMax / 1e3));
        if (allocatedBytesPerIo >= 0) {
            s.append(String.format(Locale.ROOT, "%-12s %14.3f%n", "B alloc/IO", allocatedBytesPerIo));
        }
        return s.toString();
    }

    /** The same as one JSON object (latencies in nanoseconds). */
    public String json() {
        return String.format(Locale.ROOT, "{\"pattern\":\"%s\",\"io_bytes\":%d,\"queue_depth\":%d,\"threads\":%d,"
                        + "\"interrupts\":%b,\"nsid\":%d,\"read_percent\":%d,\"seconds\":%.3f,\"reads\":%d,\"writes\":%d,"
                        + "\"errors\":%d,\"iops\":%.1f,\"mib_per_second\":%.2f,\"latency_ns\":{\"min\":%d,\"avg\":%.1f,"
                        + "\"p50\":%d,\"p99\":%d,\"p99_9\":%d,\"max\":%d},\"allocated_bytes_per_io\":%s}",
                options.pattern().word(), options.ioBytes(), options.queueDepth(), options.threads(), options.interrupts(),
                options.nsid(), options.effectiveReadPercent(), seconds, reads, writes, errors, iops(), mibPerSecond(), latencyMin,
                latencyMean, latencyP50, latencyP99, latencyP999, latencyMax,
                allocatedBytesPerIo >= 0 ? String.format(Locale.ROOT, "%.3f", allocatedBytesPerIo) : "null");
    }
}
