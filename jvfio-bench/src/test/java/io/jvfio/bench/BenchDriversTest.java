package io.jvfio.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The benchmarks in a tiny configuration, servers on threads of this JVM: every measurement runs
 * and lands in the table. No timings are checked (figures belong to the bench output).
 */
class BenchDriversTest {
    @Test
    void latencyRunsEveryMeasurementAndPrintsTheTable() throws Exception {
        var options = new BenchLatency.Options(50, 2, List.of(BenchLatency.Placement.IN_PROCESS), null, null, true,
                64 << 10, 2, null);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<BenchLatency.Row> rows = BenchLatency.run(options, new PrintStream(log, true, StandardCharsets.UTF_8));
        assertThat(rows).extracting(BenchLatency.Row::what).contains(
                "ping-pong 16 B, JVM echo (floor)", "GPIO read 1 B", "GPIO write 1 B", "GPIO read 4 B", "GPIO write 4 B",
                "mmapped BAR read 8 B", "mmapped BAR write 8 B", "ping-pong (floor)", "polled doorbell round trip",
                "interrupt: device raises → client wakes", "64 KiB request/reply (floor)",
                "memcpy in the server (floor) (64 KiB)", "DMA read, mapped window (64 KiB)",
                "DMA write, mapped window (64 KiB)", "DMA read by message (64 KiB)", "DMA write by message (64 KiB)");
        assertThat(rows).allSatisfy(r -> assertThat(r.median()).isPositive());
        ByteArrayOutputStream table = new ByteArrayOutputStream();
        LatencyReport.print(rows, new PrintStream(table, true, StandardCharsets.UTF_8));
        String text = table.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("| in-process | jvfio | GPIO read 4 B |")
                .contains("jvfio client+server / AF_UNIX floor, GPIO read 4 B")
                .contains("polled doorbell / shared-memory floor");
    }

    @Test
    void aFloorBoundsTheRowsOfItsKindOnly() {
        var p = BenchLatency.Placement.CROSS_CPU;
        var jvmFloor = new BenchLatency.Row(p, "AF_UNIX", BenchLatency.JVM_FLOOR, 30, 31, 32, "µs");
        var jvfioBelow = new BenchLatency.Row(p, "jvfio", "GPIO read 1 B", 20, 25, 26, "µs");
        var jvfioAbove = new BenchLatency.Row(p, "jvfio", "GPIO write 1 B", 30, 32, 33, "µs");
        var lvuBelow = new BenchLatency.Row(p, "libvfio-user", "GPIO read 1 B", 20, 25, 26, "µs");
        // A C server is not bounded by the JVM echo: only jvfio's row below it is reported.
        assertThat(LatencyReport.floorViolations(List.of(jvmFloor, jvfioBelow, jvfioAbove, lvuBelow)))
                .containsExactly("two CPUs: jvfio GPIO read 1 B (25.0 µs) is below its floor, " + BenchLatency.JVM_FLOOR + " (31.0 µs)");
        // The kernel's floor bounds every row, the JVM echo's included; within the slack is no violation.
        var nativeFloor = new BenchLatency.Row(p, "AF_UNIX", BenchLatency.NATIVE_FLOOR, 27, 28, 29, "µs");
        assertThat(LatencyReport.floorViolations(List.of(jvmFloor, jvfioAbove, lvuBelow, nativeFloor)))
                .containsExactly("two CPUs: libvfio-user GPIO read 1 B (25.0 µs) is below its floor, " + BenchLatency.NATIVE_FLOOR
                        + " (28.0 µs)");
        assertThat(LatencyReport.floorViolations(List.of(jvmFloor, jvfioAbove))).isEmpty();
        // On one CPU the native echo bounds nothing (the scheduler's interleaving decides there), and a
        // shared-memory row is no socket round trip.
        var oneCpu = BenchLatency.Placement.ONE_CPU;
        assertThat(LatencyReport.floorViolations(List.of(
                new BenchLatency.Row(oneCpu, "AF_UNIX", BenchLatency.NATIVE_FLOOR, 21, 22, 23, "µs"),
                new BenchLatency.Row(oneCpu, "libvfio-user", "GPIO read 1 B", 15, 16, 17, "µs"),
                new BenchLatency.Row(p, "jvfio", "polled doorbell round trip", 0.3, 0.4, 0.5, "µs"), nativeFloor))).isEmpty();
    }

    @Test
    void scaleServesManyDevicesToManyClients() throws Exception {
        BenchScale.Result r = BenchScale.run(3, 0.2, true, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertThat(r.devices()).isEqualTo(3);
        assertThat(r.ops()).isPositive();
        ByteArrayOutputStream table = new ByteArrayOutputStream();
        BenchScale.print(r, new PrintStream(table, true, StandardCharsets.UTF_8));
        assertThat(table.toString(StandardCharsets.UTF_8)).contains("| 3 |");
    }

    @Test
    void aotTrainingDrivesTheGpioCardThroughAServer() throws Exception {
        // The training's client wrote the outputs 0..199 through the server: the card holds the last.
        assertThat(BenchStartup.train().outputs()).isEqualTo(199);
    }
}
