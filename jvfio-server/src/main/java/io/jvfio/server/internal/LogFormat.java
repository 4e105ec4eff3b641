package io.jvfio.server.internal;

import java.util.Locale;

/** How the server's log lines write what they measure. */
final class LogFormat {
    private LogFormat() {}

    /** "750 ms", "10.0 s": a deadline or how long something ran. */
    static String duration(long nanos) {
        return nanos < 1_000_000_000L ? nanos / 1_000_000 + " ms" : String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }
}
