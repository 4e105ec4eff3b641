package io.jvfio.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jvfio.bench.NvmeBench.Measurement;
import io.jvfio.bench.NvmeBench.Options;
import io.jvfio.bench.NvmeBench.Results;
import io.jvfio.bench.NvmeBench.Row;
import io.jvfio.bench.NvmeBench.Target;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code jvfio bench nvme} without a guest: rows parse, the guest script brackets each row with
 * the markers the host counts doorbells at, fio's terse lines parse, and made-up results give the
 * table, the ratios and the goals (met, not met, not measured) and the same as JSON.
 */
class NvmeBenchReportTest {
    static final List<Row> TWO_ROWS = List.of(Row.RANDREAD_4K_QD32, Row.SEQWRITE_1M);

    @Test
    void rowsParseByNameInTheOrderGiven() {
        assertThat(Row.parse("all")).containsExactly(Row.values());
        assertThat(Row.parse("seqwrite-1m, randread-4k-qd32,seqwrite-1m")).containsExactly(Row.SEQWRITE_1M, Row.RANDREAD_4K_QD32);
        assertThatThrownBy(() -> Row.parse("randread-4k-qd64")).hasMessageContaining("no row 'randread-4k-qd64'")
                .hasMessageContaining("randwrite-4k-qd1");
    }

    @Test
    void targetsParseByNameAndBootInTheTablesOrder() {
        assertThat(Target.parse("all")).containsExactly(Target.TRAPPED, Target.SHADOW, Target.QEMU);
        assertThat(Target.parse("qemu,shadow")).containsExactly(Target.SHADOW, Target.QEMU);
        assertThatThrownBy(() -> Target.parse("polled")).hasMessageContaining("no target 'polled'; targets: all, trapped, shadow, qemu");
    }

    @Test
    void theScriptRunsEachRowBetweenItsMarkers() {
        String script = NvmeBench.script(new Options(3, null, 1 << 20, true, 1, TWO_ROWS, List.of(Target.values())));
        int starts = script.indexOf("row randread-4k-qd32 starts"), fio = script.indexOf("--name=randread-4k-qd32"),
                done = script.indexOf("row randread-4k-qd32 done"), next = script.indexOf("row seqwrite-1m starts");
        assertThat(starts).isPositive().isLessThan(fio);
        assertThat(fio).isLessThan(done);
        assertThat(done).isLessThan(next);
        assertThat(script).contains("--rw=randread --bs=4k --iodepth=32", "--rw=write --bs=1M --iodepth=4", "--runtime=3")
                .doesNotContain("randwrite");
    }

    @Test
    void fioTerseLinesGiveTheDirectionThatDidTheIo() {
        String[] fields = new String[130];
        Arrays.fill(fields, "0");
        fields[0] = "3";
        fields[2] = "seqwrite-1m";
        fields[47] = "204800";   // KiB/s written
        fields[48] = "200";
        FioTerse job = FioTerse.parse(String.join(";", fields));
        assertThat(job.job()).isEqualTo("seqwrite-1m");
        assertThat(job.wrote()).isTrue();
        assertThat(job.kiBPerSecond()).isEqualTo(204800);
        assertThat(job.iops()).isEqualTo(200);
        assertThatThrownBy(() -> FioTerse.parse("fio: failed")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theTableShowsEveryColumnTheRatiosAndTheGoals() {
        Results results = results();
        String table = print(results);
        assertThat(table).contains("| row | jvfio trapped IOPS | MiB/s | doorbells/IO | jvfio shadow IOPS | MiB/s | doorbells/IO"
                        + " | qemu nvme IOPS | MiB/s | shadow/qemu | shadow/trapped |")
                .contains("| randread-4k-qd32 | 10,000 | 39.1 | 2.000 | 20,000 | 78.1 | 0.050 | 16,000 | 62.5 | 1.25x | 2.00x |")
                .contains("| seqwrite-1m | 100 | 100.0 | - | 90 | 90.0 | - | - | - | - | 0.90x |")
                .contains("| jvfio shadow / qemu nvme, randread-4k-qd32 | 1.25 | ≥ 1.00 | met |")
                .contains("| jvfio shadow / qemu nvme, seqwrite-1m | - | ≥ 1.00 | not measured |")
                .contains("| jvfio shadow / jvfio trapped, randread-4k-qd32 | 2.00 | ≥ 1.50 | met |")
                .contains("| trapped doorbell writes per I/O, jvfio shadow, randread-4k-qd32 | 0.05 | ≤ 0.10 | met |")
                .contains("Failed boots", "- qemu nvme: benchmark guest failed");
        assertThat(NvmeBenchReport.goals(results)).extracting(NvmeBenchReport.Goal::met).containsExactly(true, null, true, true);
    }

    @Test
    void aGoalMissedIsNotMet() {
        Map<Target, Map<Row, Measurement>> measured = new EnumMap<>(Target.class);
        measured.put(Target.TRAPPED, Map.of(Row.RANDREAD_4K_QD32, new Measurement(10_000, 39.06, 500_000, 1_000_000)));
        measured.put(Target.SHADOW, Map.of(Row.RANDREAD_4K_QD32, new Measurement(12_000, 46.88, 600_000, 120_000)));
        measured.put(Target.QEMU, Map.of(Row.RANDREAD_4K_QD32, new Measurement(13_000, 50.78, -1, -1)));
        Results results = new Results(new Options(1, null, 1 << 20, true, 1, List.of(Row.RANDREAD_4K_QD32), List.of(Target.values())), measured, List.of());
        assertThat(NvmeBenchReport.goals(results)).extracting(NvmeBenchReport.Goal::met).containsExactly(false, false, false);
        assertThat(print(results)).contains("| trapped doorbell writes per I/O, jvfio shadow, randread-4k-qd32 | 0.20 | ≤ 0.10 | not met |")
                .doesNotContain("Failed boots");
    }

    @Test
    void jsonHoldsTheSameFigures() throws Exception {
        JsonNode json = new ObjectMapper().readTree(NvmeBenchReport.json(results()));
        assertThat(json.get("seconds").asInt()).isEqualTo(2);
        JsonNode row = json.get("rows").get(0);
        assertThat(row.get("row").asText()).isEqualTo("randread-4k-qd32");
        assertThat(row.get("targets").get("jvfio shadow").get("doorbellsPerIo").asDouble()).isEqualTo(0.05);
        assertThat(row.get("targets").get("qemu nvme").has("doorbellsPerIo")).isFalse();
        assertThat(row.get("shadowOverQemu").asDouble()).isEqualTo(1.25);
        assertThat(json.get("rows").get(1).get("shadowOverQemu").isNull()).isTrue();
        assertThat(json.get("goals")).hasSize(4);
        assertThat(json.get("goals").get(1).get("met").isNull()).isTrue();
        assertThat(json.get("failures").get(0).asText()).startsWith("qemu nvme:");
    }

    /** QD32 randread on all three; seqwrite-1m on jvfio only, QEMU's boot having failed before it. */
    static Results results() {
        Map<Target, Map<Row, Measurement>> measured = new EnumMap<>(Target.class);
        measured.put(Target.TRAPPED, Map.of(Row.RANDREAD_4K_QD32, new Measurement(10_000, 10_000 * 4 / 1024.0, 500_000, 1_000_000),
                Row.SEQWRITE_1M, new Measurement(100, 100, -1, -1)));
        measured.put(Target.SHADOW, Map.of(Row.RANDREAD_4K_QD32, new Measurement(20_000, 20_000 * 4 / 1024.0, 1_000_000, 50_000),
                Row.SEQWRITE_1M, new Measurement(90, 90, 0, 0)));
        measured.put(Target.QEMU, Map.of(Row.RANDREAD_4K_QD32, new Measurement(16_000, 16_000 * 4 / 1024.0, -1, -1)));
        return new Results(new Options(2, null, 1 << 20, true, 1, TWO_ROWS, List.of(Target.values())), Collections.unmodifiableMap(measured),
                List.of("qemu nvme: benchmark guest failed: timed out"));
    }

    static String print(Results results) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        NvmeBenchReport.print(results, new PrintStream(out, true, StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }
}
