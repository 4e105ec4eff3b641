package io.jvfio.server.faults;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * A server's fault registry: rules to add, list and clear from any thread, and the log of every
 * firing. The server asks it at each region access and each interrupt; with no rule armed that
 * costs one volatile read and allocates nothing.
 *
 * <p>Rules are asked in the order they were added; the first one that fires decides, and the rules
 * after it do not see that match (so counts and seeds depend only on the rules before). A rule
 * retires (leaves {@link #rules()}) once its firings are used up or its window has passed.
 */
public final class Faults {
    /** Firings kept in the log; older ones are dropped (their count stays in {@link #firedTotal()}). */
    public static final int LOG_CAPACITY = 10_000;
    /** A stable algorithm, so a seed fires the same matches on every JDK. */
    private static final String RANDOM_ALGORITHM = "L64X128MixRandom";
    private static final Armed[] NONE = new Armed[0];

    private final Object lock = new Object();
    /** Copy-on-write: the hot path reads it once. */
    private volatile Armed[] armed = NONE;
    private final ArrayDeque<FaultFiring> log = new ArrayDeque<>();
    private long firedTotal;
    /** Raises a device's interrupts for {@link FaultAction.RaiseInterrupt}; none until a device connects one. */
    private volatile InterruptSink interrupts;

    /** How a rule's action reaches the device's interrupts (a {@code PciDevice}'s {@code InterruptLines}). */
    @FunctionalInterface
    public interface InterruptSink {
        /** Raises {@code vector} of irq {@code index}; false if the device has no such vector. */
        boolean raise(int index, int vector);
    }

    /** A rule's run-time state: its matches and firings so far, its generator, when it was added. */
    private static final class Armed {
        final FaultRule rule;
        final long addedNanos;
        final RandomGenerator random;
        long matches;
        long firings;

        Armed(FaultRule rule, long addedNanos) {
            this.rule = rule;
            this.addedNanos = addedNanos;
            this.random = rule.frequency() instanceof FaultFrequency.Probability p
                    ? RandomGeneratorFactory.of(RANDOM_ALGORITHM).create(p.seed()) : null;
        }

        boolean expired(long now) {
            return firings >= rule.maxFirings() || now - addedNanos > windowNanos();
        }

        private long windowNanos() {
            try {
                return rule.window().toNanos();
            } catch (ArithmeticException forever) {
                return Long.MAX_VALUE;
            }
        }

        /** Counts one match; whether it fires. Called under the registry's lock. */
        boolean fires() {
            matches++;
            boolean fire = switch (rule.frequency()) {
                case FaultFrequency.EveryNth e -> matches % e.n() == 0;
                case FaultFrequency.Probability p -> random.nextDouble() < p.probability();
            };
            if (fire) {
                firings++;
            }
            return fire;
        }
    }

    /** Lets {@link FaultAction.RaiseInterrupt} raise the device's interrupts through {@code sink}. */
    public void connectInterrupts(InterruptSink sink) {
        interrupts = sink;
    }

    /**
     * Carries out a {@link FaultAction.RaiseInterrupt}: whether the device raised it. Called outside
     * the registry's lock, since delivery asks the rules again.
     */
    public boolean raise(FaultAction.RaiseInterrupt action) {
        InterruptSink sink = interrupts;
        return sink != null && sink.raise(action.index(), action.vector());
    }

    /** Arms {@code rule}; its counts and generator start now. */
    public void add(FaultRule rule) {
        synchronized (lock) {
            for (Armed a : armed) {
                if (a.rule.id().equals(rule.id())) {
                    throw new IllegalArgumentException("a rule named " + rule.id() + " is already armed");
                }
            }
            Armed[] next = Arrays.copyOf(armed, armed.length + 1);
            next[armed.length] = new Armed(rule, System.nanoTime());
            armed = next;
        }
    }

    /** Disarms the rule named {@code id}; whether there was one. */
    public boolean remove(String id) {
        synchronized (lock) {
            Armed[] next = Arrays.stream(armed).filter(a -> !a.rule.id().equals(id)).toArray(Armed[]::new);
            boolean found = next.length != armed.length;
            armed = next.length == 0 ? NONE : next;
            return found;
        }
    }

    /** Disarms every rule. The log stays. */
    public void clear() {
        synchronized (lock) {
            armed = NONE;
        }
    }

    /** The armed rules, in the order they are asked. */
    public List<FaultRule> rules() {
        long now = System.nanoTime();
        synchronized (lock) {
            return Arrays.stream(armed).filter(a -> !a.expired(now)).map(a -> a.rule).toList();
        }
    }

    /** The firings so far, oldest first (at most {@link #LOG_CAPACITY}). */
    public List<FaultFiring> log() {
        synchronized (lock) {
            return List.copyOf(log);
        }
    }

    /** How many times any rule fired since this registry was made. */
    public long firedTotal() {
        synchronized (lock) {
            return firedTotal;
        }
    }

    /**
     * Asks the rules about a region access; the action of the rule that fired, or null. The hot path:
     * with no rule armed, one volatile read.
     */
    public FaultAction onRegionAccess(int region, long offset, long count, boolean write) {
        return armed.length == 0 ? null : ask(false, region, offset, count, write);
    }

    /** Asks the rules about an interrupt on {@code vector} of irq {@code index}; the action of the rule that fired, or null. */
    public FaultAction onInterrupt(int index, int vector) {
        return armed.length == 0 ? null : ask(true, index, vector, 0, false);
    }

    /** One ask of the rules: an interrupt ({@code index}, vector {@code at}) or a region access. */
    private FaultAction ask(boolean interrupt, int index, long at, long count, boolean write) {
        synchronized (lock) {
            long now = System.nanoTime();
            for (Armed a : armed) { // re-read under the lock: a rule removed meanwhile is not asked
                boolean matches = interrupt
                        ? a.rule.match() instanceof FaultMatch.Interrupt irq && irq.matches(index, (int) at)
                        : a.rule.match() instanceof FaultMatch.RegionAccess access && access.matches(index, at, count, write);
                if (matches && fired(a, now)) {
                    record(a, interrupt ? "irq %d/%d".formatted(index, at)
                            : "region %d %s 0x%x+%d".formatted(index, write ? "write" : "read", at, count));
                    return a.rule.action();
                }
            }
            return null;
        }
    }

    /** Whether the (matching) rule fires now; an expired rule retires instead. Under the lock. */
    private boolean fired(Armed a, long now) {
        if (a.expired(now)) {
            retire(a);
            return false;
        }
        boolean fire = a.fires();
        if (fire && a.expired(now)) {
            retire(a);
        }
        return fire;
    }

    private void retire(Armed a) {
        List<Armed> left = new ArrayList<>(Arrays.asList(armed));
        left.remove(a);
        armed = left.isEmpty() ? NONE : left.toArray(Armed[]::new);
    }

    private void record(Armed a, String matched) {
        if (log.size() == LOG_CAPACITY) {
            log.removeFirst();
        }
        log.addLast(new FaultFiring(Instant.now(), a.rule.id(), a.rule.action(), matched));
        firedTotal++;
    }
}
