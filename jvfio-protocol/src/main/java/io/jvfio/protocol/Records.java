package io.jvfio.protocol;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.StringJoiner;

/**
 * equals, hashCode and toString for the records with a {@code byte[]} component, whose generated ones
 * would compare the array by identity: arrays by content, and in toString as hex, like longs and flags.
 */
final class Records {
    private Records() {}

    static boolean equal(Record a, Object b) {
        return b != null && a.getClass() == b.getClass() && Arrays.deepEquals(values(a), values(b));
    }

    static int hash(Record r) {
        return Arrays.deepHashCode(values(r));
    }

    static String text(Record r) {
        StringJoiner j = new StringJoiner(", ", r.getClass().getSimpleName() + "[", "]");
        RecordComponent[] components = r.getClass().getRecordComponents();
        Object[] values = values(r);
        for (int i = 0; i < values.length; i++) {
            String name = components[i].getName();
            j.add(name + "=" + switch (values[i]) {
                case byte[] b -> HexFormat.of().formatHex(b);
                case Long l -> Wire.hex(l);
                case Integer n when name.equals("flags") -> Wire.hex(Integer.toUnsignedLong(n));
                case null, default -> String.valueOf(values[i]);
            });
        }
        return j.toString();
    }

    private static Object[] values(Object r) {
        RecordComponent[] components = r.getClass().getRecordComponents();
        Object[] values = new Object[components.length];
        try {
            for (int i = 0; i < components.length; i++) {
                values[i] = components[i].getAccessor().invoke(r);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        return values;
    }
}
