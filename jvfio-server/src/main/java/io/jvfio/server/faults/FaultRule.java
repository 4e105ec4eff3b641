package io.jvfio.server.faults;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * One fault to inject: what it matches × how often it fires × for how long × what it does. Built
 * with {@link #on} and the {@code with}-style methods; a {@link Faults} registry arms it.
 *
 * @param id        names the rule in lists and the firing log; unique within a registry
 * @param match     the accesses or interrupts the rule looks at
 * @param frequency which of the matches fire it
 * @param maxFirings the rule retires after firing this often ({@link #UNLIMITED}: never)
 * @param window    the rule retires this long after it was added ({@link #FOREVER}: never)
 * @param action    what a firing does; must fit the match ({@link FaultAction#appliesTo})
 */
public record FaultRule(String id, FaultMatch match, FaultFrequency frequency, long maxFirings, Duration window,
                        FaultAction action) {
    public static final long UNLIMITED = Long.MAX_VALUE;
    public static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();

    public FaultRule {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(match, "match");
        Objects.requireNonNull(frequency, "frequency");
        Objects.requireNonNull(window, "window");
        Objects.requireNonNull(action, "action");
        if (maxFirings < 1) {
            throw new IllegalArgumentException("rule %s: maxFirings must be >= 1, not %d".formatted(id, maxFirings));
        }
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("rule %s: window must be positive, not %s".formatted(id, window));
        }
        if (!action.appliesTo(match)) {
            throw new IllegalArgumentException("rule %s: action %s does not apply to %s".formatted(id, action, match));
        }
    }

    /** A rule that fires on every match, without limit. */
    public static FaultRule on(String id, FaultMatch match, FaultAction action) {
        return new FaultRule(id, match, FaultFrequency.always(), UNLIMITED, FOREVER, action);
    }

    /** Fires on every {@code n}-th match only. */
    public FaultRule everyNth(long n) {
        return new FaultRule(id, match, new FaultFrequency.EveryNth(n), maxFirings, window, action);
    }

    /** Fires on each match with {@code probability}, from a generator seeded with {@code seed}. */
    public FaultRule withProbability(double probability, long seed) {
        return new FaultRule(id, match, new FaultFrequency.Probability(probability, seed), maxFirings, window, action);
    }

    /** Retires after firing {@code count} times. */
    public FaultRule times(long count) {
        return new FaultRule(id, match, frequency, count, window, action);
    }

    /** Retires {@code duration} after it was added. */
    public FaultRule within(Duration duration) {
        return new FaultRule(id, match, frequency, maxFirings, duration, action);
    }
}
