package io.jvfio.testing;

import java.time.Duration;

/** Waiting in tests for what another thread or process does, bounded: a poll, not a sleep. */
public final class Await {
    /** Between two looks: short against the tests' waits, long enough not to starve who is awaited. */
    private static final long POLL_MILLIS = 5;

    private Await() {}

    /** A condition that may throw (it often asks a device or a socket). */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Whether {@code condition} holds within {@code timeout}; it is looked at every few milliseconds. */
    public static boolean until(Duration timeout, Condition condition) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(POLL_MILLIS);
        }
        return true;
    }
}
