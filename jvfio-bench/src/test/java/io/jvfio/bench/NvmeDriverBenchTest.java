package io.jvfio.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.nvme.perf.PerfOptions;
import io.jvfio.nvme.perf.PerfResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The driver bench's table and goals from given results (the bench itself needs two idle CPUs and minutes). */
class NvmeDriverBenchTest {

    private static NvmeDriverBench.Row row(NvmeDriverBench.Case c, long ios, long p50Nanos, double bytesPerIo) {
        PerfOptions options = PerfOptions.defaults().withQueueDepth(c.queueDepth).withInterrupts(c.interrupts);
        return new NvmeDriverBench.Row(c.label, new PerfResult(options, ios, 0, 0, 10, p50Nanos / 2, p50Nanos, p50Nanos,
                2 * p50Nanos, 3 * p50Nanos, 4 * p50Nanos, bytesPerIo));
    }

    @Test
    void printsTheRowsAndJudgesTheGoals() {
        NvmeDriverBench.Results results = new NvmeDriverBench.Results(List.of(
                row(NvmeDriverBench.Case.QD128_POLLED, 12_000_000, 100_000, 0),
                row(NvmeDriverBench.Case.QD128_INTERRUPTS, 2_000_000, 400_000, 0),
                row(NvmeDriverBench.Case.QD1_POLLED, 500_000, 3_000, 0),
                row(NvmeDriverBench.Case.TRAPPED_QD128, 300_000, 900_000, 0)), 1.0, "servers on CPU 0, the driver on CPU 1");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        NvmeDriverBench.print(results, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("servers on CPU 0, the driver on CPU 1");
        assertThat(out).containsPattern("4 KiB randread QD128, polled +1,200,000 +4687\\.5 +50\\.00 +100\\.00 +100\\.00 +200\\.00 +300\\.00 +0\\.000");
        assertThat(out).containsPattern("shared-memory ping-pong \\(floor\\) +1\\.00");
        assertThat(out).contains("≥ 1,000,000 IOPS, 4 KiB randread QD128 polled: 1,200,000 — met",
                "≥ 250,000 IOPS with interrupts: 200,000 — not met",
                "QD1 p50 ≤ 2× the shared-memory ping-pong: 3.00 µs, floor 1.00 µs, 3.00x — not met",
                "0 B allocated per I/O in steady state: 0.000 B — met");
    }

    @Test
    void aGoalWithoutItsRowIsLeftOut() {
        NvmeDriverBench.Results results = new NvmeDriverBench.Results(
                List.of(row(NvmeDriverBench.Case.QD1_POLLED, 100, 2_000, -1)), Double.NaN, "one CPU");
        assertThat(NvmeDriverBench.goals(results)).isEmpty();
    }
}
