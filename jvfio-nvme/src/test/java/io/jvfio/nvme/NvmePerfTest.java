package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.nvme.perf.NvmePerf;
import io.jvfio.nvme.perf.Pattern;
import io.jvfio.nvme.perf.PerfOptions;
import io.jvfio.nvme.perf.PerfResult;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.testing.Allocations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The perf engine against jvfio's controller over a real socket: what it counts adds up (commands
 * by kind, latencies ordered, progress lines), mixed patterns mix, several threads each get a
 * queue, and the I/O threads allocate nothing per command in steady state. Short runs: no figure
 * of speed is asserted.
 */
class NvmePerfTest {
    private static final PerfOptions SHORT = PerfOptions.defaults().withQueueDepth(16)
            .withTime(Duration.ofMillis(400), Duration.ofMillis(200));

    @TempDir
    Path dir;
    ServedNvme served;

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
    }

    @Test
    void randomReadsAreCountedWithOrderedLatencies() throws Exception {
        served = new ServedNvme(dir, b -> b.polledDoorbells(true), "disk.img");
        List<String> progress = new CopyOnWriteArrayList<>();
        PerfResult r = NvmePerf.run(served.client, SHORT, progress::add);
        assertThat(r.errors()).isZero();
        assertThat(r.reads()).isPositive();
        assertThat(r.writes()).isZero();
        assertThat(r.iops()).isEqualTo(r.reads() / 0.4);
        assertThat(r.mibPerSecond()).isEqualTo(r.iops() * 4096 / (1 << 20));
        assertThat(r.latencyMin()).isPositive();
        assertThat(r.latencyMin()).isLessThanOrEqualTo(r.latencyP50());
        assertThat(r.latencyP50()).isLessThanOrEqualTo(r.latencyP99());
        assertThat(r.latencyP99()).isLessThanOrEqualTo(r.latencyP999());
        assertThat(r.latencyP999()).isLessThanOrEqualTo(r.latencyMax());
        assertThat(r.latencyMean()).isBetween((double) r.latencyMin(), (double) r.latencyMax());
        assertThat(r.allocatedBytesPerIo()).as("not counted").isEqualTo(-1);
        assertThat(r.summary()).contains("randread 4096 B, queue depth 16, 1 thread, polled").contains("IOPS").contains("p99.9");
        assertThat(r.json()).startsWith("{\"pattern\":\"randread\"").contains("\"errors\":0").contains("\"allocated_bytes_per_io\":null");
        // 0.6 s: no line, unless the last commands took long to drain on a busy machine.
        assertThat(progress).allMatch(line -> line.matches(" +1 s +[0-9,]+ IOPS +[0-9.]+ MiB/s"));
    }

    @Test
    void mixedSequentialPatternOnTwoThreadsWithProgressLines() throws Exception {
        served = new ServedNvme(dir, b -> b.polledDoorbells(true), "disk.img");
        List<String> progress = new CopyOnWriteArrayList<>();
        PerfOptions options = SHORT.withPattern(Pattern.RW, 70).withThreads(2).withIoBytes(8192)
                .withTime(Duration.ofMillis(1200), Duration.ofMillis(900));
        PerfResult r = NvmePerf.run(served.client, options, progress::add);
        assertThat(r.errors()).isZero();
        assertThat(r.reads()).isPositive();
        assertThat(r.writes()).isPositive();
        assertThat(r.json()).contains("\"read_percent\":70").contains("\"threads\":2");
        assertThat(progress).hasSizeBetween(1, 2);
        assertThat(progress.getFirst()).matches(" +1 s +[0-9,]+ IOPS +[0-9.]+ MiB/s  \\(warm-up\\)");
        if (progress.size() == 2) {
            assertThat(progress.get(1)).doesNotContain("warm-up");
        }
    }

    @Test
    void interruptsAndWritesToTheImage() throws Exception {
        served = new ServedNvme(dir, b -> b, "disk.img");   // doorbells trapped, completions by MSI-X
        PerfResult r = NvmePerf.run(served.client, SHORT.withPattern(Pattern.RANDWRITE, 0).withInterrupts(true), line -> { });
        assertThat(r.errors()).isZero();
        assertThat(r.writes()).isPositive();
        assertThat(r.reads()).isZero();
        assertThat(r.summary()).contains("interrupts");
    }

    @Test
    void refusesWhatTheControllerCannotDo() throws Exception {
        served = new ServedNvme(dir);
        assertThatThrownBy(() -> NvmePerf.run(served.client, SHORT.withIoBytes(1000), line -> { }))
                .hasMessageContaining("not a multiple of namespace 1's 512-byte blocks");
        try (NvmeDriver driver = NvmeDriver.open(served.client, NvmeDriver.Options.defaults().withIoQueues(1, 8))) {
            assertThatThrownBy(() -> NvmePerf.run(driver, SHORT, line -> { })).hasMessageContaining("holds only 7 commands");
            assertThatThrownBy(() -> NvmePerf.run(driver, SHORT.withThreads(2), line -> { }))
                    .hasMessageContaining("granted 1 I/O queues");
        }
    }

    /** As NvmeDriverAllocationTest for the driver: the perf loop, QD 32, allocates nothing per command once warm. */
    @Test
    void theIoThreadsAllocateNothingPerCommand() throws Exception {
        served = new ServedNvme(dir, b -> b.polledDoorbells(true).namespace(new NullStore(64 << 20)));
        PerfOptions options = SHORT.withQueueDepth(32).withPattern(Pattern.RANDRW, 50)
                .withTime(Duration.ofSeconds(1), Duration.ofSeconds(1)).withAllocationCounter(Allocations::currentThread);
        PerfResult r = NvmePerf.run(served.client, options, line -> { });
        assertThat(r.errors()).isZero();
        assertThat(r.reads()).isPositive();
        assertThat(r.writes()).isPositive();
        // Whatever the machine's speed (no count of commands is asserted): a few kB at most in all.
        assertThat(r.allocatedBytesPerIo() * r.ios()).as("bytes allocated while measuring").isLessThan(4096);
    }
}
