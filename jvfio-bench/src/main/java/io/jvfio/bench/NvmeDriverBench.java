package io.jvfio.bench;

import io.jvfio.client.ClientOptions;
import io.jvfio.client.MappedRegion;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.CpuAffinity;
import io.jvfio.linux.LinuxException;
import io.jvfio.nvme.perf.NvmePerf;
import io.jvfio.nvme.perf.Pattern;
import io.jvfio.nvme.perf.PerfOptions;
import io.jvfio.nvme.perf.PerfResult;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * {@code jvfio bench nvme-driver}: the Java NVMe driver's perf engine ({@link NvmePerf}, in this
 * JVM) against jvfio's NVMe controller with a null namespace ({@code serve nvme --null 1G}, in a
 * JVM of its own; {@link BenchServe}), with polled and with trapped doorbells: 4 KiB random reads
 * at queue depth 128 polled and with interrupts, and at queue depth 1 next to the shared-memory
 * ping-pong floor of {@code bench latency} (the bench device in a third JVM), measured in the same
 * run. On two CPUs or more the servers run on the first, this JVM on the second. Prints the table
 * and the goals of issue 16 as met / not met.
 */
public final class NvmeDriverBench {
    private NvmeDriverBench() {}

    /** The floor: round trips per run, runs (the median of their means is the floor). */
    private static final int FLOOR_OPS = 20_000, FLOOR_RUNS = 5;
    /** Each server is driven this long, unmeasured, before the first row. */
    private static final double JIT_WARMUP_SECONDS = 5;
    static final double GOAL_POLLED_IOPS = 1_000_000, GOAL_INTERRUPT_IOPS = 250_000, GOAL_QD1_FLOOR_RATIO = 2.0;

    /** Seconds measured per row, and run before measuring. */
    public record Options(double seconds, double warmupSeconds) {}

    /** What a row runs. */
    enum Case {
        QD128_POLLED("4 KiB randread QD128, polled", true, 128, false, false),
        QD128_INTERRUPTS("4 KiB randread QD128, interrupts", true, 128, true, false),
        QD1_POLLED("4 KiB randread QD1, polled", true, 1, false, false),
        TRAPPED_QD128("4 KiB randread QD128, trapped doorbells", false, 128, false, false),
        TRAPPED_QD1("4 KiB randread QD1, trapped doorbells", false, 1, false, false),
        SHADOW_QD128("4 KiB randread QD128, trapped + shadow doorbells", false, 128, false, true),
        SHADOW_QD1("4 KiB randread QD1, trapped + shadow doorbells", false, 1, false, true);

        final String label;
        final boolean polledDoorbells;
        final int queueDepth;
        final boolean interrupts;
        /** Whether the driver uses the controller's shadow doorbells (only with trapped doorbells: mapped ones make them moot). */
        final boolean shadowDoorbells;

        Case(String label, boolean polledDoorbells, int queueDepth, boolean interrupts, boolean shadowDoorbells) {
            this.label = label;
            this.polledDoorbells = polledDoorbells;
            this.queueDepth = queueDepth;
            this.interrupts = interrupts;
            this.shadowDoorbells = shadowDoorbells;
        }
    }

    public record Row(String label, PerfResult result) {}

    /** @param floorMicros the shared-memory ping-pong's round trip (median of the runs' means), or NaN on one CPU */
    public record Results(List<Row> rows, double floorMicros, String placement) {
        PerfResult result(Case c) {
            return rows.stream().filter(r -> r.label().equals(c.label)).findFirst().map(Row::result).orElse(null);
        }
    }

    public static Results run(Options o, PrintStream log) throws Exception {
        BitSet all = CpuAffinity.get(0);
        int first = all.nextSetBit(0);
        int second = all.nextSetBit(first + 1);
        Path dir = Files.createTempDirectory("jvfio-bench-nvme-");
        List<Process> servers = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        double floor = Double.NaN;
        try {
            Path polled = dir.resolve("nvme-polled.sock"), trapped = dir.resolve("nvme.sock"), bench = dir.resolve("bench.sock");
            servers.add(BenchLatency.spawnServe(List.of("nvme-polled", "--socket", polled.toString())).start());
            servers.add(BenchLatency.spawnServe(List.of("nvme", "--socket", trapped.toString())).start());
            servers.add(BenchLatency.spawnServe(List.of("bench", "--socket", bench.toString())).start());
            String placement;
            if (second >= 0) {
                for (Process p : servers) {
                    CpuAffinity.pinPid(p.pid(), CpuAffinity.single(first));
                }
                CpuAffinity.pinProcess(CpuAffinity.single(second));
                placement = "servers on CPU %d, the driver on CPU %d".formatted(first, second);
            } else {
                placement = "one CPU: servers and driver share it (no floor: it needs two spinning sides)";
            }
            log.println("bench nvme-driver: " + placement);
            LongSupplier allocated = ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())::getCurrentThreadAllocatedBytes;
            PerfOptions base = PerfOptions.defaults().withAllocationCounter(allocated)
                    .withTime(Duration.ofNanos((long) (o.seconds() * 1e9)), Duration.ofNanos((long) (o.warmupSeconds() * 1e9)));
            // Both sides' JIT compiles the I/O path here, before any row: with the two spinning threads pinned, the
            // compiler threads only get the CPUs by preemption, and the first row ran at a few thousand IOPS for seconds.
            for (Path socket : List.of(polled, trapped)) {
                log.println("bench nvme-driver: warming up " + socket.getFileName());
                try (VfioUserClient client = VfioUserClient.open(BenchLatency.connect(socket), ClientOptions.defaults())) {
                    NvmePerf.run(client, base.withQueueDepth(32).withPattern(Pattern.RANDRW, 50)
                            .withTime(Duration.ofNanos((long) (JIT_WARMUP_SECONDS * 1e9)), Duration.ZERO), line -> { });
                }
            }
            for (Case c : Case.values()) {
                if (c == Case.QD1_POLLED && second >= 0) {
                    floor = floor(bench, log);
                }
                log.println("bench nvme-driver: " + c.label);
                PerfOptions options = base.withQueueDepth(c.queueDepth).withInterrupts(c.interrupts)
                        .withShadowDoorbells(c.shadowDoorbells);
                try (VfioUserClient client = VfioUserClient.open(BenchLatency.connect(c.polledDoorbells ? polled : trapped),
                        ClientOptions.defaults())) {
                    PerfResult r = NvmePerf.run(client, options, line -> log.println("  " + line));
                    log.print(r.summary().indent(2));
                    rows.add(new Row(c.label, r));
                }
            }
            return new Results(rows, floor, placement);
        } finally {
            try {
                CpuAffinity.pinProcess(all);
            } catch (LinuxException ignored) {
                // best effort
            }
            for (Process p : servers) {
                p.destroy();
                p.waitFor();
            }
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** The shared-memory ping-pong of {@code bench latency} against the bench device: µs per round trip. */
    private static double floor(Path socket, PrintStream log) throws Exception {
        try (VfioUserClient client = VfioUserClient.open(BenchLatency.connect(socket), ClientOptions.defaults());
                MappedRegion mapped = client.mapRegion(BenchDevice.SHARED_BAR)) {
            MemorySegment shared = mapped.segment(BenchDevice.SHARED_OFFSET, BenchDevice.PAGE).orElseThrow();
            BenchLatency.Op roundTrip = BenchLatency.startRoundTrips(client, shared, BenchDevice.CMD_POLL_FLOOR,
                    BenchDevice.FLOOR_PING, BenchDevice.FLOOR_PONG, "shared-memory floor");
            try {
                for (int i = 0; i < FLOOR_OPS; i++) {
                    roundTrip.run();
                }
                double[] runs = new double[FLOOR_RUNS];
                for (int r = 0; r < FLOOR_RUNS; r++) {
                    long start = System.nanoTime();
                    for (int i = 0; i < FLOOR_OPS; i++) {
                        roundTrip.run();
                    }
                    runs[r] = (System.nanoTime() - start) / 1e3 / FLOOR_OPS;
                }
                Arrays.sort(runs);
                log.printf(Locale.ROOT, "bench nvme-driver: shared-memory ping-pong (floor) %.2f / %.2f / %.2f µs%n", runs[0],
                        runs[FLOOR_RUNS / 2], runs[FLOOR_RUNS - 1]);
                return runs[FLOOR_RUNS / 2];
            } finally {
                BenchLatency.stopRoundTrips(client);
            }
        }
    }

    // ------------------------------------------------------------------ output

    public static void print(Results r, PrintStream out) {
        out.println("jvfio nvme perf (Java driver) against jvfio serve nvme --null 1G; " + r.placement());
        out.printf(Locale.ROOT, "%-48s %12s %9s %8s %8s %8s %8s %8s %8s%n", "row", "IOPS", "MiB/s", "min µs", "avg µs", "p50 µs",
                "p99 µs", "p99.9 µs", "B/IO");
        for (Row row : r.rows()) {
            PerfResult p = row.result();
            out.printf(Locale.ROOT, "%-48s %,12.0f %9.1f %8.2f %8.2f %8.2f %8.2f %8.2f %8.3f%n", row.label(), p.iops(),
                    p.mibPerSecond(), p.latencyMin() / 1e3, p.latencyMean() / 1e3, p.latencyP50() / 1e3, p.latencyP99() / 1e3,
                    p.latencyP999() / 1e3, p.allocatedBytesPerIo());
        }
        if (!Double.isNaN(r.floorMicros())) {
            out.printf(Locale.ROOT, "%-48s %12s %9s %8s %8.2f%n", "shared-memory ping-pong (floor)", "", "", "", r.floorMicros());
        }
        out.println();
        out.println("Goals (issue 16):");
        for (String line : goals(r)) {
            out.println("  " + line);
        }
    }

    /** Each goal with what was measured and met / not met. */
    static List<String> goals(Results r) {
        List<String> lines = new ArrayList<>();
        PerfResult polled = r.result(Case.QD128_POLLED), interrupts = r.result(Case.QD128_INTERRUPTS), qd1 = r.result(Case.QD1_POLLED);
        if (polled != null) {
            lines.add(String.format(Locale.ROOT, "≥ 1,000,000 IOPS, 4 KiB randread QD128 polled: %,.0f — %s", polled.iops(),
                    met(polled.iops() >= GOAL_POLLED_IOPS)));
            lines.add(String.format(Locale.ROOT, "0 B allocated per I/O in steady state: %.3f B — %s", polled.allocatedBytesPerIo(),
                    met(polled.allocatedBytesPerIo() >= 0 && polled.allocatedBytesPerIo() < 0.5)));
        }
        if (interrupts != null) {
            lines.add(String.format(Locale.ROOT, "≥ 250,000 IOPS with interrupts: %,.0f — %s", interrupts.iops(),
                    met(interrupts.iops() >= GOAL_INTERRUPT_IOPS)));
        }
        if (qd1 != null && !Double.isNaN(r.floorMicros())) {
            double ratio = qd1.latencyP50() / 1e3 / r.floorMicros();
            lines.add(String.format(Locale.ROOT, "QD1 p50 ≤ 2× the shared-memory ping-pong: %.2f µs, floor %.2f µs, %.2fx — %s",
                    qd1.latencyP50() / 1e3, r.floorMicros(), ratio, met(ratio <= GOAL_QD1_FLOOR_RATIO)));
        }
        return lines;
    }

    private static String met(boolean met) {
        return met ? "met" : "not met";
    }
}
