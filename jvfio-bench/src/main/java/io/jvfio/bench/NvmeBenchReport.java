package io.jvfio.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvfio.bench.NvmeBench.Measurement;
import io.jvfio.bench.NvmeBench.Results;
import io.jvfio.bench.NvmeBench.Row;
import io.jvfio.bench.NvmeBench.Target;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@link NvmeBench}'s results as one Markdown table (a row per fio job: IOPS and MiB/s per target,
 * trapped doorbell writes per I/O for jvfio, the shadow/QEMU and shadow/trapped IOPS ratios), then
 * the goals of issue 15 checked — or the same as JSON.
 */
public final class NvmeBenchReport {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final double SHADOW_OVER_QEMU = 1.0, SHADOW_OVER_TRAPPED_AT_QD32_RANDREAD = 1.5, DOORBELLS_PER_IO_AT_QD32 = 0.1;

    /** One goal on one row: the figure, the bound it must reach or stay under, and whether it did (null: not measured). */
    public record Goal(String what, double value, boolean atLeast, double bound, Boolean met) {
        static Goal of(String what, double value, boolean atLeast, double bound) {
            Boolean met = Double.isNaN(value) ? null : atLeast ? value >= bound : value <= bound;
            return new Goal(what, value, atLeast, bound, met);
        }

        String verdict() {
            return met == null ? "not measured" : met ? "met" : "not met";
        }
    }

    private NvmeBenchReport() {}

    /** IOPS of {@code over} ÷ IOPS of {@code under} on {@code row}; NaN when either is missing. */
    static double ratio(Results results, Row row, Target over, Target under) {
        Measurement a = results.get(over, row), b = results.get(under, row);
        return a == null || b == null || b.iops() == 0 ? Double.NaN : a.iops() / b.iops();
    }

    private static double doorbellsPerIo(Results results, Target target, Row row) {
        Measurement m = results.get(target, row);
        return m == null ? Double.NaN : m.doorbellsPerIo();
    }

    /**
     * The goals for the rows that ran: shadow ≥ 1.0× QEMU on each, shadow ≥ 1.5× trapped at QD32
     * randread, ≤ 0.1 trapped doorbell writes per I/O with shadow doorbells at QD32.
     */
    public static List<Goal> goals(Results results) {
        List<Row> rows = results.options().rows();
        List<Goal> goals = new ArrayList<>();
        for (Row row : rows) {
            goals.add(Goal.of("jvfio shadow / qemu nvme, " + row.label(), ratio(results, row, Target.SHADOW, Target.QEMU),
                    true, SHADOW_OVER_QEMU));
        }
        if (rows.contains(Row.RANDREAD_4K_QD32)) {
            goals.add(Goal.of("jvfio shadow / jvfio trapped, " + Row.RANDREAD_4K_QD32.label(),
                    ratio(results, Row.RANDREAD_4K_QD32, Target.SHADOW, Target.TRAPPED), true, SHADOW_OVER_TRAPPED_AT_QD32_RANDREAD));
        }
        for (Row row : rows) {
            if (row.depth == 32) {
                goals.add(Goal.of("trapped doorbell writes per I/O, jvfio shadow, " + row.label(),
                        doorbellsPerIo(results, Target.SHADOW, row), false, DOORBELLS_PER_IO_AT_QD32));
            }
        }
        return goals;
    }

    /** The table, the goals and any failed boot, in Markdown. */
    public static void print(Results results, PrintStream out) {
        var o = results.options();
        out.printf("fio in one guest (%d vCPU, %s memory), %d s per row; the same image for every column%n%n",
                o.cpus(), o.sharedMemory() ? "shared" : "private", o.seconds());
        StringBuilder header = new StringBuilder("| row |"), rule = new StringBuilder("|---|");
        for (Target t : Target.values()) {
            header.append(" %s IOPS | MiB/s |".formatted(t.label()));
            rule.append("---:|---:|");
            if (t.jvfio()) {
                header.append(" doorbells/IO |");
                rule.append("---:|");
            }
        }
        header.append(" shadow/qemu | shadow/trapped |");
        rule.append("---:|---:|");
        out.println(header);
        out.println(rule);
        for (Row row : o.rows()) {
            StringBuilder line = new StringBuilder("| " + row.label() + " |");
            for (Target t : Target.values()) {
                Measurement m = results.get(t, row);
                line.append(m == null ? " - | - |" : " %s | %s |".formatted(number(m.iops(), 0), number(m.mibPerSecond(), 1)));
                if (t.jvfio()) {
                    line.append(" %s |".formatted(m == null ? "-" : number(m.doorbellsPerIo(), 3)));
                }
            }
            line.append(" %s | %s |".formatted(times(ratio(results, row, Target.SHADOW, Target.QEMU)),
                    times(ratio(results, row, Target.SHADOW, Target.TRAPPED))));
            out.println(line);
        }
        out.println();
        out.println("| goal | value | target | met |");
        out.println("|---|---:|---|---|");
        for (Goal g : goals(results)) {
            out.printf("| %s | %s | %s %s | %s |%n", g.what(), number(g.value(), 2),
                    g.atLeast() ? "≥" : "≤", number(g.bound(), 2), g.verdict());
        }
        if (!results.failures().isEmpty()) {
            out.println();
            out.println("Failed boots (their columns hold only the rows they finished):");
            results.failures().forEach(f -> out.println("- " + f));
        }
    }

    /** The same figures, goals and failures as one JSON object; figures not measured are null. */
    public static String json(Results results) {
        var o = results.options();
        ObjectNode root = JSON.createObjectNode().put("seconds", o.seconds()).put("sharedMemory", o.sharedMemory()).put("cpus", o.cpus());
        ArrayNode rows = root.putArray("rows");
        for (Row row : o.rows()) {
            ObjectNode r = rows.addObject().put("row", row.label());
            ObjectNode targets = r.putObject("targets");
            for (Target t : Target.values()) {
                Measurement m = results.get(t, row);
                if (m != null) {
                    ObjectNode figures = targets.putObject(t.label());
                    put(figures, "iops", m.iops());
                    put(figures, "mibPerSecond", m.mibPerSecond());
                    if (t.jvfio()) {
                        figures.put("ioCommands", m.ioCommands()).put("trappedDoorbells", m.trappedDoorbells());
                        put(figures, "doorbellsPerIo", m.doorbellsPerIo());
                    }
                }
            }
            put(r, "shadowOverQemu", ratio(results, row, Target.SHADOW, Target.QEMU));
            put(r, "shadowOverTrapped", ratio(results, row, Target.SHADOW, Target.TRAPPED));
        }
        ArrayNode goals = root.putArray("goals");
        for (Goal g : goals(results)) {
            ObjectNode goal = goals.addObject().put("goal", g.what());
            put(goal, "value", g.value());
            goal.put("atLeast", g.atLeast()).put("bound", g.bound()).put("met", g.met());
        }
        ArrayNode failures = root.putArray("failures");
        results.failures().forEach(failures::add);
        return root.toString();
    }

    private static void put(ObjectNode node, String field, double value) {
        if (Double.isNaN(value)) {
            node.putNull(field);
        } else {
            node.put(field, value);
        }
    }

    private static String number(double value, int decimals) {
        return Double.isNaN(value) ? "-" : String.format(Locale.ROOT, "%,." + decimals + "f", value);
    }

    private static String times(double ratio) {
        return Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.2fx", ratio);
    }
}
