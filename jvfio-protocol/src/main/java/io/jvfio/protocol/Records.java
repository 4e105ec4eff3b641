package io.jvfio.protocol;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * equals, hashCode and toString for records with a {@code byte[]} component, which the generated ones
 * compare by identity: arrays by content, and in toString as hex, like {@code long}s and flags.
 */
final class Records {
    private Records() {}

    static boolean equal(Record a, Object b) {
        if (b == null || a.getClass() != b.getClass()) {
            return false;
        }
        for (RecordComponent c : a.getClass().getRecordComponents()) {
            if (!Objects.deepEquals(value(c, a), value(c, b))) {
                return false;
            }
        }
        return true;
    }

    static int hash(Record r) {
        int h = 0;
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            h = 31 * h + Arrays.deepHashCode(new Object[] {value(c, r)});
        }
        return h;
    }

    static String text(Record r) {
        StringJoiner j = new StringJoiner(", ", r.getClass().getSimpleName() + "[", "]");
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            Object v = value(c, r);
            String s = switch (v) {
                case byte[] b -> HexFormat.of().formatHex(b);
                case Long l -> Wire.hex(l);
                case Integer i when c.getName().equals("flags") -> Wire.hex(Integer.toUnsignedLong(i));
                default -> String.valueOf(v);
            };
            j.add(c.getName() + "=" + s);
        }
        return j.toString();
    }

    /** The component's value; the accessor's copy of an array is as good as the field. */
    private static Object value(RecordComponent c, Object r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
