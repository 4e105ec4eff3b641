package io.jvfio.server.faults;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * A device's fault registry — one per device, for the core's faults and the device's own: rules to
 * add, list and clear from any thread (Java, a plan file, the control socket), and the log of every
 * firing. The server asks it at each region access, the interrupt lines at each interrupt, DMA at
 * each transfer, a device at its own points (an NVMe command fetched); with no rule armed that costs
 * one volatile read and allocates nothing. A device may subclass it for a typed view of its own
 * faults (NVMe's {@code NvmeFaults}).
 *
 * <p>Rules are asked in the order they were added; the first one that fires decides, and the rules
 * after it do not see that match (so counts and seeds depend only on the rules before). A rule
 * retires (leaves {@link #rules()}) once its firings are used up or its window has passed.
 */
public class Faults {
    /** Firings kept in the log; older ones are dropped (their count stays in {@link #firedTotal()}). */
    public static final int LOG_CAPACITY = 10_000;
    /** A stable algorithm, so a seed fires the same matches on every JDK. */
    private static final String RANDOM_ALGORITHM = "L64X128MixRandom";
    private static final Armed[] NONE = new Armed[0];

    private final Object lock = new Object();
    /** Copy-on-write: the hot path reads it once. */
    private volatile Armed[] armed = NONE;
    /** Whether an armed rule matches DMA: only then do transfers meet the rules (and in-place DMA stops). */
    private volatile boolean dmaWatched;
    private final ArrayDeque<FaultFiring> log = new ArrayDeque<>();
    private long firedTotal;
    /** The device's parts that carry out actions away from a point (copy on write). */
    private volatile Performer[] performers = {};
    /** Told of every firing, outside the lock (copy on write). */
    private volatile Consumer<FaultFiring>[] listeners = newListeners(0);

    /**
     * A part of the device that carries out actions by itself: the interrupt lines raise
     * {@link FaultAction.RaiseInterrupt}, an NVMe controller sets CSTS.CFS. Used for the actions of
     * {@link FaultMatch.Now} rules and for actions that fire at one point but act elsewhere.
     */
    @FunctionalInterface
    public interface Performer {
        /** Carries out {@code action} if it is one of this part's; whether it did. */
        boolean perform(FaultAction action);
    }

    /** An armed rule with how often it matched and fired so far (for listings). */
    public record RuleStatus(FaultRule rule, long matches, long firings) {}

    /**
     * The firings numbered {@code from} on, oldest first ({@link #logSince}), and the number the
     * next firing will get: a reader that polls the log asks again from {@code next}.
     */
    public record LogExcerpt(long next, List<FaultFiring> firings) {}

    /** A rule's run-time state: its matches and firings so far, its generator, when it was added. */
    private static final class Armed {
        final FaultRule rule;
        final long addedNanos;
        /** The rule's window in nanoseconds (Long.MAX_VALUE: for ever), worked out once: {@link #expired} is asked at every match. */
        final long windowNanos;
        final RandomGenerator random;
        long matches;
        long firings;

        Armed(FaultRule rule, long addedNanos) {
            this.rule = rule;
            this.addedNanos = addedNanos;
            this.windowNanos = windowNanos(rule.window());
            this.random = rule.frequency() instanceof FaultFrequency.Probability p
                    ? RandomGeneratorFactory.of(RANDOM_ALGORITHM).create(p.seed()) : null;
        }

        boolean expired(long now) {
            return firings >= rule.maxFirings() || now - addedNanos > windowNanos;
        }

        private static long windowNanos(Duration window) {
            try {
                return window.toNanos();
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

    /** Registers a part of the device that carries out actions ({@link #perform}). */
    public void addPerformer(Performer performer) {
        synchronized (lock) {
            Performer[] more = Arrays.copyOf(performers, performers.length + 1);
            more[performers.length] = performer;
            performers = more;
        }
    }

    /** Unregisters {@code performer} (a server that closes); whether it was registered. */
    public boolean removePerformer(Performer performer) {
        synchronized (lock) {
            Performer[] left = Arrays.stream(performers).filter(p -> p != performer).toArray(Performer[]::new);
            boolean found = left.length != performers.length;
            performers = left;
            return found;
        }
    }

    /**
     * Carries out {@code action} through the first registered {@link Performer} that takes it;
     * whether one did. Called outside the registry's lock, since carrying out may ask the rules again
     * (a raised interrupt meets the interrupt rules).
     */
    public boolean perform(FaultAction action) {
        for (Performer performer : performers) {
            if (performer.perform(action)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Tells {@code listener} of every firing from now on (the server logs them); it is called on the
     * thread that met the fault, outside the registry's lock, and must not block.
     */
    public void addListener(Consumer<FaultFiring> listener) {
        synchronized (lock) {
            Consumer<FaultFiring>[] more = Arrays.copyOf(listeners, listeners.length + 1);
            more[listeners.length] = listener;
            listeners = more;
        }
    }

    /** Stops telling {@code listener} of firings. */
    public void removeListener(Consumer<FaultFiring> listener) {
        synchronized (lock) {
            listeners = Arrays.stream(listeners).filter(l -> l != listener).toArray(Faults::newListeners);
        }
    }

    @SuppressWarnings("unchecked")
    private static Consumer<FaultFiring>[] newListeners(int length) {
        return (Consumer<FaultFiring>[]) new Consumer<?>[length];
    }

    /** Replaces the armed rules. Under the lock. */
    private void arm(Armed[] rules) {
        dmaWatched = Arrays.stream(rules).anyMatch(a -> a.rule.match() instanceof FaultMatch.Dma);
        armed = rules;
    }

    /**
     * Whether an armed rule matches DMA ({@link FaultMatch.Dma}): the DMA path asks the rules, and
     * gives devices no in-place access to client memory, only while this holds. One volatile read.
     */
    public boolean watchesDma() {
        return dmaWatched;
    }

    /** Whether no rule is armed: a point need not even be built. One volatile read. */
    public boolean isEmpty() {
        return armed.length == 0;
    }

    /**
     * Arms {@code rule}; its counts and generator start now. A {@link FaultMatch.Now} rule is not
     * armed: its action is carried out at once ({@link #perform}) and logged.
     *
     * @throws IllegalArgumentException if a rule with the same id is armed, or no part of the device
     *                                  carries out a Now rule's action
     */
    public void add(FaultRule rule) {
        if (rule.match() instanceof FaultMatch.Now) {
            if (!perform(rule.action())) {
                throw new IllegalArgumentException("rule %s: nothing in this device carries out %s"
                        .formatted(rule.id(), rule.action()));
            }
            FaultFiring firing;
            synchronized (lock) {
                firing = record(rule, "now");
            }
            tell(firing);
            return;
        }
        synchronized (lock) {
            for (Armed a : armed) {
                if (a.rule.id().equals(rule.id())) {
                    throw new IllegalArgumentException("a rule named " + rule.id() + " is already armed");
                }
            }
            Armed[] next = Arrays.copyOf(armed, armed.length + 1);
            next[armed.length] = new Armed(rule, System.nanoTime());
            arm(next);
        }
    }

    /** Disarms the rule named {@code id}; whether there was one. */
    public boolean remove(String id) {
        synchronized (lock) {
            Armed[] next = Arrays.stream(armed).filter(a -> !a.rule.id().equals(id)).toArray(Armed[]::new);
            boolean found = next.length != armed.length;
            arm(next.length == 0 ? NONE : next);
            return found;
        }
    }

    /** Disarms every rule. The log stays. */
    public void clear() {
        synchronized (lock) {
            arm(NONE);
        }
    }

    /** The armed rules, in the order they are asked. */
    public List<FaultRule> rules() {
        long now = System.nanoTime();
        synchronized (lock) {
            return Arrays.stream(armed).filter(a -> !a.expired(now)).map(a -> a.rule).toList();
        }
    }

    /** The armed rules, in the order they are asked, with their counts so far. */
    public List<RuleStatus> status() {
        long now = System.nanoTime();
        synchronized (lock) {
            return Arrays.stream(armed).filter(a -> !a.expired(now))
                    .map(a -> new RuleStatus(a.rule, a.matches, a.firings)).toList();
        }
    }

    /**
     * The firings numbered {@code from} and later, the first firing since this registry was made
     * being number 0; those older than the log keeps ({@link #LOG_CAPACITY}) are gone.
     */
    public LogExcerpt logSince(long from) {
        synchronized (lock) {
            long oldestKept = firedTotal - log.size();
            int skip = (int) Math.min(log.size(), Math.max(0, from - oldestKept));
            return new LogExcerpt(firedTotal, log.stream().skip(skip).toList());
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
     * Asks the rules about a region access; the action of the rule that fired, or null. With no rule
     * armed, one volatile read; with rules armed it makes a point per call (the session refills one
     * {@link FaultPoint.RegionAccess} of its own instead).
     */
    public FaultAction onRegionAccess(int region, long offset, long count, boolean write) {
        return armed.length == 0 ? null : ask(new FaultPoint.RegionAccess(region, offset, count, write));
    }

    /** Asks the rules about an interrupt on {@code vector} of irq {@code index}; the action of the rule that fired, or null. */
    public FaultAction onInterrupt(int index, int vector) {
        return armed.length == 0 ? null : ask(new FaultPoint.Interrupt(index, vector));
    }

    /** Asks the rules about a DMA transfer of client memory; the action of the rule that fired, or null. */
    public FaultAction onDma(long iova, long length, boolean write) {
        return armed.length == 0 ? null : ask(new FaultPoint.Dma(iova, length, write));
    }

    /**
     * Asks the rules about {@code point}; the action of the first rule that matches and fires, or
     * null. Callers on hot paths check {@link #isEmpty()} before building the point.
     */
    public FaultAction ask(FaultPoint point) {
        if (armed.length == 0) {
            return null;
        }
        FaultFiring firing = null;
        synchronized (lock) {
            long now = System.nanoTime();
            for (Armed a : armed) { // re-read under the lock: a rule removed meanwhile is not asked
                if (a.rule.match().matches(point) && fired(a, now)) {
                    firing = record(a.rule, point.describe());
                    break;
                }
            }
        }
        if (firing == null) {
            return null;
        }
        tell(firing);
        return firing.action();
    }

    private void tell(FaultFiring firing) {
        for (Consumer<FaultFiring> listener : listeners) {
            listener.accept(firing);
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
        arm(left.isEmpty() ? NONE : left.toArray(Armed[]::new));
    }

    private FaultFiring record(FaultRule rule, String matched) {
        if (log.size() == LOG_CAPACITY) {
            log.removeFirst();
        }
        FaultFiring firing = new FaultFiring(Instant.now(), rule.id(), rule.action(), matched);
        log.addLast(firing);
        firedTotal++;
        return firing;
    }
}
