package io.jvfio.server.faults;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Helpers for {@link FaultVocabulary} implementations — the core's and each device's — so that
 * names, ranges and durations read and print the same way in every plan.
 */
public final class PlanWords {
    private PlanWords() {}

    /** Names and their numbers, alternating ({@code "read", 2, "write", 1}), in order. */
    public static Map<String, Long> names(Object... nameThenValue) {
        Map<String, Long> names = new LinkedHashMap<>();
        for (int i = 0; i < nameThenValue.length; i += 2) {
            names.put((String) nameThenValue[i], ((Number) nameThenValue[i + 1]).longValue());
        }
        return Collections.unmodifiableMap(names);
    }

    /** Words and their one-line descriptions, alternating, in order (a vocabulary's kinds or actions). */
    public static Map<String, String> descriptions(String... wordThenText) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < wordThenText.length; i += 2) {
            map.put(wordThenText[i], wordThenText[i + 1]);
        }
        return Collections.unmodifiableMap(map);
    }

    /** The first name {@code names} gives {@code value}, or the number itself if it has none. */
    public static Object nameOf(Map<String, Long> names, long value) {
        for (Map.Entry<String, Long> e : names.entrySet()) {
            if (e.getValue() == value) {
                return e.getKey();
            }
        }
        return value;
    }

    /** An inclusive range as a plan writes it: 0x10-0x13, or 0x10 for one. */
    public static String rangeText(long first, long last) {
        return first == last ? "0x%x".formatted(first) : "0x%x-0x%x".formatted(first, last);
    }

    /** An inclusive range of counted things (sectors, blocks) in decimal: 2048-2055, or 2048 for one. */
    public static String decimalRangeText(long first, long last) {
        return first == last ? Long.toString(first) : first + "-" + last;
    }

    /** A duration in the plan's words: the largest unit that says it exactly (1500ms, 2s, 3m). */
    public static String durationText(Duration duration) {
        long nanos = duration.toNanos();
        if (nanos == 0) {
            return "0ms";
        }
        String[] units = {"h", "m", "s", "ms", "us"};
        long[] sizes = {3_600_000_000_000L, 60_000_000_000L, 1_000_000_000L, 1_000_000L, 1_000L};
        for (int i = 0; i < units.length; i++) {
            if (nanos % sizes[i] == 0) {
                return nanos / sizes[i] + units[i];
            }
        }
        return nanos + "ns";
    }
}
