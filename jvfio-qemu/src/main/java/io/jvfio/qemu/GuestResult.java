package io.jvfio.qemu;

import java.util.ArrayList;
import java.util.List;

/**
 * The outcome of one QEMU run.
 *
 * @param exitCode QEMU's exit status (0 after the guest powered off; 137 when the harness killed it)
 * @param timedOut the run hit {@link GuestOptions#timeout(java.time.Duration)} and was killed
 * @param console  the serial console (and QEMU's own stderr), '\r' stripped, plus {@code [jvfio] ...} notes
 * @param results  the payloads of {@code JVFIO-RESULT: <text>} lines printed by the script, in order
 */
public record GuestResult(int exitCode, boolean timedOut, String console, List<String> results) {

    public GuestResult {
        console = console == null ? "" : console;
        results = List.copyOf(results);
    }

    /** The result of a run whose console is {@code console}: its {@code JVFIO-RESULT:} lines are the results. */
    public static GuestResult of(int exitCode, boolean timedOut, String console) {
        List<String> results = new ArrayList<>();
        for (String line : console.split("\n", -1)) {
            int i = line.indexOf(Initramfs.RESULT_MARKER);
            if (i >= 0) results.add(line.substring(i + Initramfs.RESULT_MARKER.length()).strip());
        }
        return new GuestResult(exitCode, timedOut, console, results);
    }

    /** A line {@code JVFIO-VERDICT: PASS} was printed and no {@code JVFIO-VERDICT: FAIL ...}. */
    public boolean passed() {
        List<String> v = verdicts();
        return v.contains("PASS") && v.stream().noneMatch(s -> s.startsWith("FAIL"));
    }

    /** The payloads of all {@code JVFIO-VERDICT: } lines (one per completed boot), e.g. {@code PASS}, {@code FAIL 3}. */
    public List<String> verdicts() {
        List<String> v = new ArrayList<>();
        for (String line : lines()) {
            int i = line.indexOf(Initramfs.VERDICT_MARKER);
            if (i >= 0) v.add(line.substring(i + Initramfs.VERDICT_MARKER.length()).strip());
        }
        return v;
    }

    /** How many times /init reached the {@code JVFIO-BOOT <n>} marker. */
    public int boots() {
        return (int) lines().stream().filter(QemuGuest::isBootMarker).count();
    }

    /** The guest kernel panicked. */
    public boolean panicked() {
        return console.contains("Kernel panic");
    }

    /** The console split into lines. */
    public List<String> lines() {
        return List.of(console.split("\n"));
    }

    /** A short description, with the console's tail, for assertion messages. */
    public String describe() {
        List<String> l = lines();
        List<String> tail = l.subList(Math.max(0, l.size() - 60), l.size());
        return "exit=" + exitCode + " timedOut=" + timedOut + " verdicts=" + verdicts() + " results=" + results
                + "\n--- console (last " + tail.size() + " lines) ---\n" + String.join("\n", tail);
    }

    @Override
    public String toString() {
        return "GuestResult[exit=" + exitCode + ", timedOut=" + timedOut + ", verdicts=" + verdicts()
                + ", results=" + results + ", console=" + console.length() + " chars]";
    }
}
