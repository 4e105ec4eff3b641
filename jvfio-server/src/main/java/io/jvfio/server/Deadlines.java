package io.jvfio.server;

import java.time.Duration;
import java.util.Objects;

/**
 * How long a server waits on its client and on its device; {@link Duration#ZERO} turns a bound
 * off. See docs/reliability.md for what each one logs.
 *
 * @param handshake     from connecting to a whole VERSION message: a client slower than this is disconnected
 * @param message       from a message's first byte to its last (header, payload and fds): a client that
 *                      stalls in the middle of a message is disconnected. Between messages a client may idle
 *                      for ever (QEMU does)
 * @param stuckCallback how long one command's device callbacks (region access, reset, feature, migration
 *                      step, DMA map notification, irq set) may run before the watchdog reports them, with
 *                      the stack of the thread running them
 * @param onStuck       what the watchdog does beyond the report
 */
public record Deadlines(Duration handshake, Duration message, Duration stuckCallback, OnStuckCallback onStuck) {
    /** What happens to a command whose device callback runs past {@link #stuckCallback()}. */
    public enum OnStuckCallback {
        /** Reported only: the client waits for the callback like before. */
        REPORT,
        /**
         * Reported, and the client is answered ETIMEDOUT at once. Its next messages wait until the
         * callback returns (the device is never called twice at once); then the late result is
         * dropped and the session goes on, unless the command changed what the client believes
         * (VERSION, DMA_MAP/UNMAP, SET_IRQS, DEVICE_FEATURE, MIG_DATA_*): that client is disconnected.
         */
        ERROR
    }

    public Deadlines {
        for (Duration d : new Duration[] {handshake, message, stuckCallback}) {
            if (Objects.requireNonNull(d, "deadline").isNegative()) {
                throw new IllegalArgumentException("a deadline cannot be negative: " + d);
            }
        }
        Objects.requireNonNull(onStuck, "onStuck");
    }

    /** VERSION within 10 s, a begun message finished within 10 s, callbacks reported after 5 s. */
    public static Deadlines defaults() {
        return new Deadlines(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofSeconds(5), OnStuckCallback.REPORT);
    }

    /** No bound at all: the server waits for ever, as before deadlines existed. */
    public static Deadlines none() {
        return new Deadlines(Duration.ZERO, Duration.ZERO, Duration.ZERO, OnStuckCallback.REPORT);
    }

    public Deadlines withHandshake(Duration d) {
        return new Deadlines(d, message, stuckCallback, onStuck);
    }

    public Deadlines withMessage(Duration d) {
        return new Deadlines(handshake, d, stuckCallback, onStuck);
    }

    public Deadlines withStuckCallback(Duration d, OnStuckCallback action) {
        return new Deadlines(handshake, message, d, action);
    }
}
