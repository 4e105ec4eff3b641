package io.jvfio.devices.nvme;

import io.jvfio.server.faults.FaultSpec;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A {@link FaultSpec} over a map of a rule's fields, as a plan reader would hand one to a vocabulary (tests only). */
record MapFaultSpec(String ruleId, Map<String, Object> fields) implements FaultSpec {
    @Override
    public boolean has(String field) {
        return fields.containsKey(field);
    }

    private Object value(String field) {
        Object value = fields.get(field);
        if (value == null) {
            throw problem(field, "is missing");
        }
        return value;
    }

    private IllegalArgumentException problem(String field, String what) {
        return new IllegalArgumentException("rule %s: field %s %s".formatted(ruleId, field, what));
    }

    @Override
    public String text(String field) {
        return value(field).toString();
    }

    @Override
    public long integer(String field) {
        return switch (value(field)) {
            case Number number -> number.longValue();
            case String text -> parse(field, text);
            default -> throw problem(field, "is not an integer");
        };
    }

    private long parse(String field, String text) {
        try {
            return text.startsWith("0x") ? Long.parseLong(text.substring(2), 16) : Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw problem(field, "is not an integer: " + text);
        }
    }

    @Override
    public long integer(String field, long otherwise) {
        return has(field) ? integer(field) : otherwise;
    }

    @Override
    public double number(String field) {
        return value(field) instanceof Number number ? number.doubleValue() : Double.parseDouble(text(field));
    }

    @Override
    public boolean flag(String field, boolean otherwise) {
        return has(field) ? (Boolean) value(field) : otherwise;
    }

    @Override
    public Duration duration(String field) {
        Object value = value(field);
        if (value instanceof Duration duration) {
            return duration;
        }
        String text = value.toString();
        if (text.endsWith("ms")) {
            return Duration.ofMillis(parse(field, text.substring(0, text.length() - 2)));
        }
        if (text.endsWith("s")) {
            return Duration.ofSeconds(parse(field, text.substring(0, text.length() - 1)));
        }
        return Duration.ofMillis(integer(field));
    }

    @Override
    public long[] range(String field) {
        return switch (value(field)) {
            case List<?> list -> new long[] {((Number) list.get(0)).longValue(), ((Number) list.get(1)).longValue()};
            case String text when text.contains("-") -> new long[] {parse(field, text.substring(0, text.indexOf('-'))),
                    parse(field, text.substring(text.indexOf('-') + 1))};
            default -> new long[] {integer(field), integer(field)};
        };
    }

    @Override
    public long named(String field, Map<String, Long> names) {
        if (value(field) instanceof String text && !text.matches("(0x)?[0-9a-fA-F]+")) {
            Long number = names.get(text.toLowerCase(Locale.ROOT).replace('_', '-'));
            if (number == null) {
                throw problem(field, "is none of " + names.keySet() + ": " + text);
            }
            return number;
        }
        return integer(field);
    }
}
