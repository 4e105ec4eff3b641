package io.jvfio.nvme.perf;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * What a perf run does, in spdk_nvme_perf's terms.
 *
 * @param nsid        the namespace
 * @param queueDepth  commands each thread keeps in flight (-q)
 * @param ioBytes     bytes per command (-o), a multiple of the namespace's block size
 * @param pattern     the access pattern (-w)
 * @param readPercent reads among the commands of a mixed pattern, 0-100 (-M)
 * @param time        how long the measured part lasts (-t)
 * @param warmup      how long the threads run before measuring (the JIT compiles the I/O path meanwhile)
 * @param threads     threads, an I/O queue pair each
 * @param interrupts  completions by MSI-X instead of polling them (when the run opens the driver)
 * @param shadowDoorbells shadow doorbells when the controller offers them and the doorbells are
 *                    trapped (when the run opens the driver; see {@link io.jvfio.nvme.NvmeDriver.Options})
 * @param allocatedBytes the calling thread's allocated bytes so far, to count the I/O path's
 *                    allocations; null to not count them
 */
public record PerfOptions(int nsid, int queueDepth, int ioBytes, Pattern pattern, int readPercent, Duration time,
        Duration warmup, int threads, boolean interrupts, boolean shadowDoorbells, LongSupplier allocatedBytes) {

    public PerfOptions {
        if (queueDepth < 1 || queueDepth > 65535 || ioBytes < 1 || threads < 1 || readPercent < 0 || readPercent > 100
                || time.isNegative() || time.isZero() || warmup.isNegative()) {
            throw new IllegalArgumentException("perf options out of range: queue depth %d, %d bytes per I/O, %d threads, %d %% reads, %s"
                    .formatted(queueDepth, ioBytes, threads, readPercent, time));
        }
    }

    /** 4 KiB random reads at queue depth 128, one thread, polled, 10 s after a 2 s warm-up, namespace 1. */
    public static PerfOptions defaults() {
        return new PerfOptions(1, 128, 4096, Pattern.RANDREAD, 50, Duration.ofSeconds(10), Duration.ofSeconds(2), 1, false, true, null);
    }

    public PerfOptions withNamespace(int id) {
        return new PerfOptions(id, queueDepth, ioBytes, pattern, readPercent, time, warmup, threads, interrupts, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withQueueDepth(int depth) {
        return new PerfOptions(nsid, depth, ioBytes, pattern, readPercent, time, warmup, threads, interrupts, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withIoBytes(int bytes) {
        return new PerfOptions(nsid, queueDepth, bytes, pattern, readPercent, time, warmup, threads, interrupts, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withPattern(Pattern p, int reads) {
        return new PerfOptions(nsid, queueDepth, ioBytes, p, reads, time, warmup, threads, interrupts, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withTime(Duration measured, Duration warm) {
        return new PerfOptions(nsid, queueDepth, ioBytes, pattern, readPercent, measured, warm, threads, interrupts, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withThreads(int count) {
        return new PerfOptions(nsid, queueDepth, ioBytes, pattern, readPercent, time, warmup, count, interrupts, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withInterrupts(boolean on) {
        return new PerfOptions(nsid, queueDepth, ioBytes, pattern, readPercent, time, warmup, threads, on, shadowDoorbells, allocatedBytes);
    }

    public PerfOptions withShadowDoorbells(boolean on) {
        return new PerfOptions(nsid, queueDepth, ioBytes, pattern, readPercent, time, warmup, threads, interrupts, on, allocatedBytes);
    }

    public PerfOptions withAllocationCounter(LongSupplier counter) {
        return new PerfOptions(nsid, queueDepth, ioBytes, pattern, readPercent, time, warmup, threads, interrupts, shadowDoorbells, counter);
    }

    /** The share of reads this run makes, 0-100. */
    int effectiveReadPercent() {
        return pattern.isMixed() ? readPercent : pattern.fixedReadPercent;
    }
}
