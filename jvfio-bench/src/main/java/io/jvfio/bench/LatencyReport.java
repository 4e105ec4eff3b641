package io.jvfio.bench;

import io.jvfio.bench.BenchLatency.Row;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code jvfio bench latency} prints after measuring: the table, the goal ratios, and whether
 * every floor held.
 */
public final class LatencyReport {
    /** How far below its floor a row may land (run-to-run noise) before the report says the floor failed. */
    static final double FLOOR_SLACK = 0.95;

    private LatencyReport() {}

    /** The table (markdown) and the goal ratios. */
    public static void print(List<Row> rows, PrintStream out) {
        out.println("| placement | target | measurement | min | median | max | unit | ops/s (median) |");
        out.println("|---|---|---|---:|---:|---:|---|---:|");
        for (Row r : rows) {
            String f = r.unit().equals("µs") ? "%.1f" : "%.2f";
            String opsPerSecond = r.unit().equals("µs") && !r.what().startsWith("interrupt")
                    ? String.format(Locale.ROOT, "%,.0f", 1e6 / r.median()) : "";
            out.println(String.format(Locale.ROOT, "| %s | %s | %s | " + f + " | " + f + " | " + f + " | %s | %s |",
                    r.placement().label, r.target(), r.what(), r.min(), r.median(), r.max(), r.unit(), opsPerSecond));
        }
        out.println();
        out.println("| placement | goal | ratio (medians) | target | met |");
        out.println("|---|---|---:|---|---|");
        Map<String, Row> byKey = new LinkedHashMap<>();
        rows.forEach(r -> byKey.put(r.key(), r));
        for (BenchLatency.Placement p : BenchLatency.Placement.values()) {
            for (String op : List.of("GPIO read 1 B", "GPIO write 1 B", "GPIO read 4 B", "GPIO write 4 B")) {
                goal(out, byKey, p, "jvfio server / libvfio-user, " + op, p + "/jvfio/" + op, p + "/libvfio-user/" + op, 1.1, true);
            }
            for (String op : List.of("GPIO read 4 B", "GPIO write 4 B")) {
                goal(out, byKey, p, "jvfio client+server / AF_UNIX floor, " + op, p + "/jvfio/" + op,
                        p + "/AF_UNIX/" + BenchLatency.JVM_FLOOR, 1.25, true);
            }
            goal(out, byKey, p, "polled doorbell / shared-memory floor", p + "/jvfio/polled doorbell round trip",
                    p + "/shared memory/ping-pong (floor)", 3, true);
            for (Row r : byKey.values()) {
                if (r.placement() == p && r.what().startsWith("DMA") && r.what().contains("mapped")) {
                    goal(out, byKey, p, r.what() + " / memcpy", r.key(), keyStartingWith(byKey, p + "/jvfio/memcpy"), 0.8, false);
                }
                if (r.placement() == p && r.what().startsWith("DMA") && r.what().contains("message")) {
                    goal(out, byKey, p, r.what() + " / socket", r.key(), p + "/AF_UNIX/64 KiB request/reply (floor)", 0.8, false);
                }
            }
        }
        out.println();
        List<String> broken = floorViolations(rows);
        out.println(broken.isEmpty() ? "Every floor held." : "Floors that did not hold (rerun on a quiet machine):");
        broken.forEach(line -> out.println("- " + line));
    }

    /**
     * Lines for every round trip over the socket that lands below a floor bounding it (by more than
     * {@link #FLOOR_SLACK}): jvfio's rows against the JVM echo; across CPUs, every trapped row and the
     * JVM echo against the native echo. (On one CPU the native echo bounds nothing: there the cost is
     * how the scheduler interleaves two processes on one CPU, and a JVM echo measured 18.9 µs to the
     * native echo's 21.8.) Empty when every floor held.
     */
    public static List<String> floorViolations(List<Row> rows) {
        Map<String, Row> byKey = new LinkedHashMap<>();
        rows.forEach(r -> byKey.put(r.key(), r));
        List<String> broken = new ArrayList<>();
        for (Row r : rows) {
            boolean trapped = r.what().startsWith("GPIO");
            List<Row> floors = new ArrayList<>();
            if (trapped && r.target().equals("jvfio")) {
                floors.add(byKey.get(r.placement() + "/AF_UNIX/" + BenchLatency.JVM_FLOOR));
            }
            if ((trapped || r.what().equals(BenchLatency.JVM_FLOOR)) && r.placement() == BenchLatency.Placement.CROSS_CPU) {
                floors.add(byKey.get(r.placement() + "/AF_UNIX/" + BenchLatency.NATIVE_FLOOR));
            }
            for (Row floor : floors) {
                if (floor != null && r.median() < floor.median() * FLOOR_SLACK) {
                    broken.add(String.format(Locale.ROOT, "%s: %s %s (%.1f µs) is below its floor, %s (%.1f µs)",
                            r.placement().label, r.target(), r.what(), r.median(), floor.what(), floor.median()));
                }
            }
        }
        return broken;
    }

    private static String keyStartingWith(Map<String, Row> rows, String prefix) {
        return rows.keySet().stream().filter(k -> k.startsWith(prefix)).findFirst().orElse("-");
    }

    private static void goal(PrintStream out, Map<String, Row> rows, BenchLatency.Placement p, String what, String numerator,
            String denominator, double target, boolean atMost) {
        Row a = rows.get(numerator), b = rows.get(denominator);
        if (a == null || b == null) {
            return;
        }
        double ratio = a.median() / b.median();
        boolean met = atMost ? ratio <= target : ratio >= target;
        out.println(String.format(Locale.ROOT, "| %s | %s | %.2f | %s %.2f | %s |", p.label, what, ratio,
                atMost ? "≤" : "≥", target, met ? "yes" : "no"));
    }
}
