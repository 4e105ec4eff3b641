package io.jvfio.nvme.perf;

import io.jvfio.client.DeviceHandle;
import io.jvfio.nvme.NvmeDriver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

/**
 * {@code jvfio nvme perf}, spdk_nvme_perf's counterpart: threads, each with its own I/O queue pair,
 * keep a queue depth of reads and writes in flight for a time and count IOPS, MiB/s and latency
 * ({@link LatencyHistogram}); a progress line each second. The threads allocate nothing per
 * command ({@link PerfOptions#allocatedBytes} counts it). The warm-up runs the same loop unmeasured.
 *
 * <pre>{@code
 * try (VfioUserClient client = VfioUserClient.connect(socket)) {
 *     PerfResult r = NvmePerf.run(client, PerfOptions.defaults(), System.err::println);
 *     System.out.print(r.summary());
 * }
 * }</pre>
 */
public final class NvmePerf {
    private NvmePerf() {}

    /**
     * The driver options a run needs: the options' interrupts and shadow doorbells, a queue pair per thread, and queues
     * one entry deeper than the queue depth (a full queue is one short of its size), at least 256.
     */
    public static NvmeDriver.Options driverOptions(PerfOptions options) {
        return NvmeDriver.Options.defaults().withInterrupts(options.interrupts()).withShadowDoorbells(options.shadowDoorbells())
                .withIoQueues(options.threads(), Math.max(256, options.queueDepth() + 1));
    }

    /** Opens the controller of {@code device} with {@link #driverOptions}, runs, and closes the driver. */
    public static PerfResult run(DeviceHandle device, PerfOptions options, Consumer<String> progress)
            throws IOException, InterruptedException {
        try (NvmeDriver driver = NvmeDriver.open(device, driverOptions(options))) {
            return run(driver, options, progress);
        }
    }

    /**
     * Runs on an open driver, whose granted I/O queues must cover the threads (and whose
     * interrupts, not the options', decide how completions are awaited). Each second (warm-up
     * included) {@code progress} gets a line.
     */
    public static PerfResult run(NvmeDriver driver, PerfOptions options, Consumer<String> progress)
            throws IOException, InterruptedException {
        if (options.threads() > driver.ioQueueLimit()) {
            throw new IllegalArgumentException("%d threads, but the controller granted %d I/O queues"
                    .formatted(options.threads(), driver.ioQueueLimit()));
        }
        CountDownLatch ready = new CountDownLatch(options.threads()), go = new CountDownLatch(1);
        List<PerfWorker> workers = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < options.threads(); i++) {
            PerfWorker worker = new PerfWorker(driver, options, i, ready, go);
            workers.add(worker);
            threads.add(Thread.ofPlatform().name("nvme-perf-" + i).start(worker));
        }
        ready.await();
        long start = System.nanoTime();
        long warmupEnd = start + options.warmup().toNanos();
        long end = warmupEnd + options.time().toNanos();
        for (PerfWorker w : workers) {
            w.warmupEndNanos = warmupEnd;
            w.endNanos = end;
        }
        go.countDown();   // the fields above happen-before the workers pass it
        report(workers, threads, options, start, warmupEnd, end, progress);
        for (Thread t : threads) {
            t.join();
        }
        LatencyHistogram latency = new LatencyHistogram();
        long reads = 0, writes = 0, errors = 0, allocated = 0;
        boolean allocationCounted = options.allocatedBytes() != null;
        for (PerfWorker w : workers) {
            if (w.failure != null) {
                throw w.failure instanceof IOException e ? e : new IOException("perf thread: " + w.failure, w.failure);
            }
            latency.add(w.latency);
            reads += w.reads;
            writes += w.writes;
            errors += w.errors;
            allocated += Math.max(0, w.allocatedBytes);
        }
        long ios = reads + writes + errors;
        return PerfResult.of(options, reads, writes, errors, options.time().toNanos() / 1e9, latency,
                allocationCounted && ios > 0 ? (double) allocated / ios : -1);
    }

    /** A progress line each second until the threads are done. */
    private static void report(List<PerfWorker> workers, List<Thread> threads, PerfOptions options, long start,
            long warmupEnd, long end, Consumer<String> progress) throws InterruptedException {
        long last = 0, lastAt = start;
        for (int second = 1; ; second++) {
            long due = start + second * 1_000_000_000L;
            boolean alive = true;
            while (alive && System.nanoTime() - due < 0) {
                alive = false;
                for (Thread t : threads) {
                    alive |= t.isAlive();
                }
                if (alive) {
                    Thread.sleep(Math.max(1, Math.min(50, (due - System.nanoTime()) / 1_000_000)));
                }
            }
            if (!alive || System.nanoTime() - end > 500_000_000L) {
                return;
            }
            long now = System.nanoTime(), total = 0;
            for (PerfWorker w : workers) {
                total += w.completed();
            }
            double iops = (total - last) * 1e9 / (now - lastAt);
            progress.accept(String.format(Locale.ROOT, "%4d s %,14.0f IOPS %10.1f MiB/s%s", second, iops,
                    iops * options.ioBytes() / (1 << 20), due - 1_000_000_000L - warmupEnd < 0 ? "  (warm-up)" : ""));
            last = total;
            lastAt = now;
        }
    }
}
