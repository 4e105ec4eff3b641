package io.jvfio.server.faults;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@link FaultSpec} over one rule of a plan as Jackson read it (from YAML or JSON). It remembers
 * every field it was asked about, so that {@link FaultPlan} can refuse a field that no part of the
 * rule knows ({@link #unasked}) — a typo must not silently widen a fault.
 */
final class PlanRuleSpec implements FaultSpec {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ns|us|ms|s|m|h)?");
    private static final Pattern RANGE = Pattern.compile("\\s*(\\S+?)\\s*-\\s*(\\S+)\\s*");

    private final JsonNode rule;
    private final String id;
    /** How messages name the rule: its id, and its place in the plan when it has one. */
    private final String where;
    private final Set<String> asked = new LinkedHashSet<>();

    PlanRuleSpec(JsonNode rule, String id, String where) {
        this.rule = rule;
        this.id = id;
        this.where = where;
    }

    @Override
    public String ruleId() {
        return id;
    }

    /** "rule media (#2)": how errors name this rule. */
    String where() {
        return where;
    }

    /** The rule's fields nobody asked about, in the order written. */
    List<String> unasked() {
        List<String> left = new ArrayList<>();
        rule.fieldNames().forEachRemaining(name -> {
            if (!asked.contains(name)) {
                left.add(name);
            }
        });
        return left;
    }

    /** The fields asked about so far: those this rule's kind and action know. */
    Set<String> asked() {
        return asked;
    }

    /** An error about {@code field} that names the rule and the field. */
    IllegalArgumentException error(String field, String problem) {
        return new IllegalArgumentException("%s: %s: %s".formatted(where, field, problem));
    }

    @Override
    public boolean has(String field) {
        asked.add(field);
        JsonNode value = rule.get(field);
        return value != null && !value.isNull();
    }

    @Override
    public String text(String field) {
        JsonNode value = scalar(field);
        return value.asText();
    }

    @Override
    public long integer(String field) {
        JsonNode value = scalar(field);
        if (value.isIntegralNumber() && value.canConvertToLong()) {
            return value.longValue();
        }
        if (value.isTextual()) {
            Long parsed = parseInteger(value.asText());
            if (parsed != null) {
                return parsed;
            }
        }
        throw error(field, "expected an integer (decimal or 0x-hex), not " + shown(value));
    }

    @Override
    public long integer(String field, long otherwise) {
        return has(field) ? integer(field) : otherwise;
    }

    @Override
    public double number(String field) {
        JsonNode value = scalar(field);
        if (value.isNumber()) {
            return value.doubleValue();
        }
        try {
            return Double.parseDouble(value.asText().strip());
        } catch (NumberFormatException e) {
            throw error(field, "expected a number, not " + shown(value));
        }
    }

    @Override
    public boolean flag(String field, boolean otherwise) {
        if (!has(field)) {
            return otherwise;
        }
        JsonNode value = scalar(field);
        if (value.isBoolean()) {
            return value.booleanValue();
        }
        return switch (value.asText().strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw error(field, "expected true or false, not " + shown(value));
        };
    }

    @Override
    public Duration duration(String field) {
        JsonNode value = scalar(field);
        if (value.isIntegralNumber() && value.canConvertToLong() && value.longValue() >= 0) {
            return Duration.ofMillis(value.longValue());
        }
        Matcher m = DURATION.matcher(value.asText().strip());
        if (value.isTextual() && m.matches()) {
            try {
                long amount = Long.parseLong(m.group(1));
                return switch (m.group(2) == null ? "ms" : m.group(2)) {
                    case "ns" -> Duration.ofNanos(amount);
                    case "us" -> Duration.ofNanos(Math.multiplyExact(amount, 1000L));
                    case "ms" -> Duration.ofMillis(amount);
                    case "s" -> Duration.ofSeconds(amount);
                    case "m" -> Duration.ofMinutes(amount);
                    default -> Duration.ofHours(amount);
                };
            } catch (ArithmeticException | NumberFormatException tooLong) {
                // falls through to the error below
            }
        }
        throw error(field, "expected a duration such as 500ms, 3s, 2m (or milliseconds), not " + shown(value));
    }

    @Override
    public long[] range(String field) {
        asked.add(field);
        JsonNode value = rule.get(field);
        if (value != null && value.isArray()) {
            if (value.size() != 2) {
                throw error(field, "a range as a list has two elements [first, last], not " + value.size());
            }
            return ordered(field, bound(field, value.get(0)), bound(field, value.get(1)));
        }
        JsonNode single = scalar(field);
        if (single.isTextual()) {
            Matcher m = RANGE.matcher(single.asText());
            if (m.matches()) {
                Long first = parseInteger(m.group(1));
                Long last = parseInteger(m.group(2));
                if (first != null && last != null) {
                    return ordered(field, first, last);
                }
            }
        }
        long only = bound(field, single);
        return new long[] {only, only};
    }

    @Override
    public long named(String field, Map<String, Long> names) {
        JsonNode value = scalar(field);
        if (value.isTextual()) {
            Long byName = names.get(normalized(value.asText()));
            if (byName == null) {
                for (Map.Entry<String, Long> e : names.entrySet()) {
                    if (normalized(e.getKey()).equals(normalized(value.asText()))) {
                        byName = e.getValue();
                    }
                }
            }
            if (byName != null) {
                return byName;
            }
            Long number = parseInteger(value.asText());
            if (number != null) {
                return number;
            }
        } else if (value.isIntegralNumber() && value.canConvertToLong()) {
            return value.longValue();
        }
        throw error(field, "expected one of %s or a number, not %s".formatted(String.join(", ", names.keySet()), shown(value)));
    }

    /** Names compare case-insensitively, with '-' and '_' alike. */
    static String normalized(String name) {
        return name.strip().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** A decimal or 0x-hex integer (hex up to 64 bits, as for addresses), or null. */
    static Long parseInteger(String text) {
        String t = text.strip();
        try {
            if (t.startsWith("0x") || t.startsWith("0X")) {
                return Long.parseUnsignedLong(t.substring(2), 16);
            }
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private long bound(String field, JsonNode value) {
        if (value.isIntegralNumber() && value.canConvertToLong()) {
            return value.longValue();
        }
        Long parsed = value.isTextual() ? parseInteger(value.asText()) : null;
        if (parsed == null) {
            throw error(field, "expected a range such as 0x1000-0x1fff, [4096, 8191] or one number, not " + shown(value));
        }
        return parsed;
    }

    private long[] ordered(String field, long first, long last) {
        if (Long.compareUnsigned(first, last) > 0) {
            throw error(field, "the range 0x%x-0x%x ends before it starts".formatted(first, last));
        }
        return new long[] {first, last};
    }

    /** The field's value, which must be there and be a single value (not a list or a mapping). */
    private JsonNode scalar(String field) {
        asked.add(field);
        JsonNode value = rule.get(field);
        if (value == null || value.isNull()) {
            throw error(field, "missing");
        }
        if (value.isContainerNode()) {
            throw error(field, "expected a single value, not " + shown(value));
        }
        return value;
    }

    private static String shown(JsonNode value) {
        return value.isTextual() ? "'" + value.asText() + "'" : value.toString();
    }
}
