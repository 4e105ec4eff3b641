package io.jvfio.cli.nvme;

import io.jvfio.cli.Sizes;
import io.jvfio.client.DeviceHandle;
import io.jvfio.nvme.perf.NvmePerf;
import io.jvfio.nvme.perf.Pattern;
import io.jvfio.nvme.perf.PerfOptions;
import io.jvfio.nvme.perf.PerfResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * {@code jvfio nvme SOCKET perf}, spdk_nvme_perf's counterpart ({@link NvmePerf}): its options, a
 * picocli mixin of {@code jvfio nvme} (so {@code jvfio nvme --help} lists them), and the run.
 */
public final class NvmePerfCommand {
    @Option(names = {"-q", "--queue-depth"}, paramLabel = "QD", defaultValue = "128",
            description = "perf: commands in flight per thread (default: ${DEFAULT-VALUE}).")
    int queueDepth;

    @Option(names = {"-o", "--io-size"}, paramLabel = "SIZE", defaultValue = "4K",
            description = "perf: bytes per command, a multiple of the block size (default: ${DEFAULT-VALUE}).")
    String ioSize;

    @Option(names = {"-w", "--pattern"}, paramLabel = "PATTERN", defaultValue = "randread",
            description = "perf: read, write, randread, randwrite, rw or randrw (mixed) (default: ${DEFAULT-VALUE}).")
    String pattern;

    @Option(names = {"-M", "--read-percent"}, paramLabel = "READ%", defaultValue = "50",
            description = "perf: reads among the commands of rw and randrw (default: ${DEFAULT-VALUE}).")
    int readPercent;

    @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", defaultValue = "10",
            description = "perf: seconds measured (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "2",
            description = "perf: seconds run before measuring, while the JIT compiles (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
            description = "perf: threads, an I/O queue pair each (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--no-shadow-doorbells",
            description = "perf: ring trapped doorbells for every batch even when the controller offers shadow doorbells.")
    boolean noShadowDoorbells;

    /** The run's options from the command line's and those {@code jvfio nvme} has itself. */
    PerfOptions options(int nsid, boolean interrupts) {
        long bytes = Sizes.parse(ioSize, "--io-size");
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--io-size " + ioSize + " is too large");
        }
        if (seconds <= 0 || warmupSeconds < 0) {
            throw new IllegalArgumentException("--time must be above 0 and --warmup at least 0");
        }
        return PerfOptions.defaults().withNamespace(nsid).withQueueDepth(queueDepth).withIoBytes((int) bytes)
                .withPattern(Pattern.of(pattern), readPercent).withThreads(threads).withInterrupts(interrupts)
                .withShadowDoorbells(!noShadowDoorbells)
                .withTime(Duration.ofNanos((long) (seconds * 1e9)), Duration.ofNanos((long) (warmupSeconds * 1e9)));
    }

    /** Runs against the controller of {@code device}: progress lines each second, then the summary (or JSON on stdout, progress on stderr). */
    int run(DeviceHandle device, int nsid, boolean interrupts, boolean json, PrintWriter out, PrintWriter err)
            throws IOException, InterruptedException {
        PerfOptions options = options(nsid, interrupts);
        PrintWriter progress = json ? err : out;
        PerfResult result = NvmePerf.run(device, options, line -> {
            progress.println(line);
            progress.flush();
        });
        out.print(json ? result.json() + System.lineSeparator() : result.summary());
        out.flush();
        return 0;
    }
}
