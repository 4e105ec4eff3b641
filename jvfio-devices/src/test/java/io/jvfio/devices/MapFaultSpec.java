package io.jvfio.devices;

import io.jvfio.server.faults.FaultSpec;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * A {@link FaultSpec} over a map of texts, as a plan would write the fields: enough for the
 * devices' vocabulary tests (the plan reader has the real one).
 */
public record MapFaultSpec(String ruleId, Map<String, String> fields) implements FaultSpec {
    public static MapFaultSpec of(String... keysAndValues) {
        Map<String, String> fields = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            fields.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return new MapFaultSpec("r1", fields);
    }

    private String field(String field) {
        String value = fields.get(field);
        if (value == null) {
            throw new IllegalArgumentException("rule %s: field %s is missing".formatted(ruleId, field));
        }
        return value.strip();
    }

    @Override
    public boolean has(String field) {
        return fields.containsKey(field);
    }

    @Override
    public String text(String field) {
        return field(field);
    }

    @Override
    public long integer(String field) {
        try {
            return Long.decode(field(field));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("rule %s, field %s: not an integer".formatted(ruleId, field), e);
        }
    }

    @Override
    public long integer(String field, long otherwise) {
        return has(field) ? integer(field) : otherwise;
    }

    @Override
    public double number(String field) {
        return Double.parseDouble(field(field));
    }

    @Override
    public boolean flag(String field, boolean otherwise) {
        return has(field) ? Boolean.parseBoolean(field(field)) : otherwise;
    }

    @Override
    public Duration duration(String field) {
        String v = field(field);
        if (v.endsWith("ms")) {
            return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        } else if (v.endsWith("s")) {
            return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
        } else if (v.endsWith("m")) {
            return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
        }
        return Duration.ofMillis(Long.parseLong(v));
    }

    @Override
    public long[] range(String field) {
        String[] ends = field(field).split("-");
        long first = Long.decode(ends[0].strip());
        return new long[] {first, ends.length == 1 ? first : Long.decode(ends[1].strip())};
    }

    @Override
    public long named(String field, Map<String, Long> names) {
        String v = field(field);
        Long named = names.get(v.toLowerCase(Locale.ROOT).replace('_', '-'));
        return named != null ? named : integer(field);
    }
}
