package io.jvfio.cli;

import java.util.Locale;

/** Byte sizes as users type them: 4096, 64K, 512M, 1G, 2T (powers of 1024). */
public final class Sizes {
    private Sizes() {}

    public static long parse(String text, String option) {
        String t = text.strip().toUpperCase(Locale.ROOT);
        int shift = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? t : t.substring(0, t.length() - 1);
        try {
            long n = Long.parseLong(digits);
            if (n <= 0 || n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a positive size such as 4096, 64K, 512M or 1G, not '" + text + "'");
        }
    }
}
