package io.jvfio.cli;

import java.time.Duration;
import java.util.Locale;

/** Durations as users type them: 500ms, 10s, 2m; 0 or "none" for no limit ({@link Duration#ZERO}). */
public final class Durations {
    private Durations() {}

    public static Duration parse(String text, String option) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        if (t.equals("none") || t.equals("0")) {
            return Duration.ZERO;
        }
        int digits = 0;
        while (digits < t.length() && Character.isDigit(t.charAt(digits))) {
            digits++;
        }
        try {
            long n = Long.parseLong(t.substring(0, digits));
            Duration d = switch (t.substring(digits)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                default -> throw new NumberFormatException();
            };
            if (n <= 0) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(option + " must be a duration such as 500ms, 10s or 2m, or 0/none for no limit, not '"
                    + text + "'");
        }
    }
}
