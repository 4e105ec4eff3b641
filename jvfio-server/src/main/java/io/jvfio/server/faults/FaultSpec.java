package io.jvfio.server.faults;

import java.time.Duration;
import java.util.Map;

/**
 * The fields of one rule as a plan file or {@code jvfio fault … inject} wrote them, read by a
 * {@link FaultVocabulary} with typed getters whose errors name the rule and the field. Numbers may be
 * written in decimal or 0x-hex, durations as {@code 500ms}, {@code 3s}, {@code 2m}, ranges as
 * {@code 1000-1999} or a two-element list. The plan reader reports fields no vocabulary asked for.
 */
public interface FaultSpec {
    /** The rule's id (for messages). */
    String ruleId();

    /** Whether the rule has {@code field}. */
    boolean has(String field);

    /** A text field. @throws IllegalArgumentException if absent or not text */
    String text(String field);

    /** An integer field (decimal or 0x-hex). @throws IllegalArgumentException if absent or not an integer */
    long integer(String field);

    /** An integer field, or {@code otherwise} if absent. */
    long integer(String field, long otherwise);

    /** A number (probability, …). */
    double number(String field);

    /** true/false, or {@code otherwise} if absent. */
    boolean flag(String field, boolean otherwise);

    /** A duration ({@code 500ms}, {@code 3s}, {@code 2m}, or an integer of milliseconds). */
    Duration duration(String field);

    /** An inclusive range {@code [first, last]} ({@code 1000-1999} or {@code [1000, 1999]}); a single number is a range of one. */
    long[] range(String field);

    /**
     * A field that is either a name from {@code names} (case-insensitive, '-' and '_' alike) or an
     * integer: e.g. a status "unrecovered-read-error" or 0x281.
     */
    long named(String field, Map<String, Long> names);
}
