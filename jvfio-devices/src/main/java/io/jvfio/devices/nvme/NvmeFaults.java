package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.faults.Faults;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * NVMe's own faults, injected by the controller for testing hosts' error handling (issue 18):
 * {@link Rule}s match commands as they are fetched — by opcode, submission queue, namespace and
 * LBA range, on every n-th match or with a seeded probability, a number of times — and act on
 * them: complete with a chosen status (e.g. Unrecovered Read Error, Write Fault; DNR or not)
 * without running the command; run it and post its completion later (a timer thread, started by
 * the first such fault); never complete it ({@link CommandDrops} keeps it for Aborts and resets);
 * or set CSTS.CFS (the command then is never completed either, as on a controller that failed).
 * {@link #readOnly()} fails every write from then on. Every firing is logged ({@link #firings()}).
 * With no rule set the command path pays one volatile read and allocates nothing; a firing
 * allocates its log entry.
 */
public final class NvmeFaults extends Faults {
    /** Attempted Write to Read Only Range (command specific 0x82), the status of writes once read-only. */
    public static final int SC_WRITE_TO_READ_ONLY_RANGE = 0x182;
    /** Firings kept for {@link #firings()}: the newest ones. */
    static final int FIRINGS_KEPT = 1024;
    private static final System.Logger LOG = System.getLogger(NvmeFaults.class.getName());
    private static final Installed[] NONE = {};

    /** What the queue does with a command after the faults looked at it. */
    enum Verdict {
        /** No rule fired: run the command. */
        RUN,
        /** Complete it now with the status set on it, without running it. */
        COMPLETE,
        /** Keep it, never complete it (unless aborted). */
        WITHHOLD,
        /** Run it, complete it later ({@link Command#completionDelayNanos}). */
        DELAY
    }

    /** What a rule does to a command it matched. */
    public enum Action {
        /** Completes the command with the rule's status, without running it. */
        COMPLETE_WITH_STATUS,
        /** Never completes the command; an Abort or a reset takes it ({@link CommandDrops}). */
        NEVER_COMPLETE,
        /** Sets CSTS.CFS (Controller Fatal Status) and never completes the command: the host resets. */
        CONTROLLER_FATAL,
        /** Runs the command and posts its completion after the rule's delay. */
        DELAY_COMPLETION
    }

    /** One fault that fired: when, on which command, by which rule. */
    public record Firing(Instant at, Rule rule, int queue, int cid, int opcode) {}

    /** Set once, by the controller's constructor (the registry is made before the controller). */
    private NvmeController controller;
    private final CommandDrops drops = new CommandDrops(this);
    /** The rules in force, newest last; replaced whole (copy on write) under this object's monitor. */
    private volatile Installed[] rules = NONE;
    /** Guarded by this object's monitor. */
    private final ArrayDeque<Firing> firings = new ArrayDeque<>();
    /** Posts delayed completions; started by the first one, guarded by this object's monitor. */
    private ScheduledExecutorService timer;

    NvmeFaults() {}

    void bind(NvmeController controller) {
        this.controller = controller;
    }

    /** A rule for commands with {@code opcode} on any queue (admin or I/O: give {@link Rule.Builder#queue}). */
    public static Rule.Builder when(int opcode) {
        if ((opcode & ~0xff) != 0) {
            throw new IllegalArgumentException("opcode 0x%x".formatted(opcode));
        }
        return new Rule.Builder(opcode);
    }

    /** Puts {@code rule} in force (after the rules already set). */
    public synchronized void add(Rule rule) {
        Objects.requireNonNull(rule);
        Installed[] more = Arrays.copyOf(rules, rules.length + 1);
        more[rules.length] = new Installed(rule);
        rules = more;
    }

    /**
     * The media goes read-only, as a worn-out drive does: from now on Write, Write Zeroes and
     * Dataset Management complete with Attempted Write to Read Only Range (DNR), reads go on, and
     * SMART critical warning bit 3 (read-only) is set — reported as an asynchronous event if the
     * host enabled it. {@link #clear()} lets writes through again; the warning stays set.
     */
    public void readOnly() {
        for (int write : new int[] {IO_WRITE, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT}) {
            add(when(write).complete(SC_WRITE_TO_READ_ONLY_RANGE, true));
        }
        controller.events.criticalWarning(SMART_WARNING_READ_ONLY);
    }

    /** Removes every rule (commands already withheld stay withheld until aborted or reset). */
    @Override
    public synchronized void clear() {
        super.clear();
        rules = NONE;
    }

    /** The rules still in force (a rule with a count leaves when it has fired that many times). */
    public synchronized List<Rule> nvmeRules() {
        return Arrays.stream(rules).map(installed -> installed.rule).toList();
    }

    /** The faults that fired, oldest first (the newest {@value #FIRINGS_KEPT}). */
    public synchronized List<Firing> firings() {
        return List.copyOf(firings);
    }

    /** The commands kept uncompleted, and how Aborts of them are answered. */
    public CommandDrops commandDrops() {
        return drops;
    }

    /** Decides what becomes of {@code command}, just fetched from {@code queue}; sets its status for COMPLETE. */
    Verdict apply(SubmissionQueue queue, Command command) {
        if (rules.length == 0) {
            return Verdict.RUN;
        }
        Rule fired = fire(queue, command);
        if (fired == null) {
            return Verdict.RUN;
        }
        LOG.log(System.Logger.Level.INFO, "fault {0} on command {1} (opcode 0x{2}) of queue {3}", fired, command.cid(),
                Integer.toHexString(command.opcode()), queue.id);
        return switch (fired.action()) {
            case COMPLETE_WITH_STATUS -> {
                command.status = fired.status();
                yield Verdict.COMPLETE;
            }
            case NEVER_COMPLETE -> {
                drops.withhold(queue, command);
                yield Verdict.WITHHOLD;
            }
            case DELAY_COMPLETION -> {
                command.completionDelayNanos = fired.delayNanos();
                yield Verdict.DELAY;
            }
            case CONTROLLER_FATAL -> {
                drops.withhold(queue, command);
                controller.fatal("fault injected on command %d of queue %d".formatted(command.cid(), queue.id), null);
                yield Verdict.WITHHOLD;
            }
        };
    }

    /**
     * Posts a copy of {@code command}'s completion after its delay, unless the queue is gone by then
     * (a reset or a deletion: then nothing is posted, as the host forgot the command).
     */
    void completeLater(SubmissionQueue queue, Command command) {
        Command done = command.copy();
        ScheduledExecutorService delays;
        synchronized (this) {
            if (timer == null) {
                timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("nvme-fault-delays")
                        .factory());
            }
            delays = timer;
        }
        delays.schedule(() -> queue.complete(done), command.completionDelayNanos, TimeUnit.NANOSECONDS);
    }

    /** Stops the timer of delayed completions (the controller shut down). */
    synchronized void close() {
        if (timer != null) {
            timer.shutdownNow();
            timer = null;
        }
    }

    /** The first rule that fires on the command (its counters advance), or null; logs the firing. */
    private synchronized Rule fire(SubmissionQueue queue, Command command) {
        Installed[] now = rules;
        for (int i = 0; i < now.length; i++) {
            Installed installed = now[i];
            if (!installed.rule.matches(queue.id, command) || !installed.fires()) {
                continue;
            }
            if (installed.left == 0) {
                Installed[] fewer = new Installed[now.length - 1];
                System.arraycopy(now, 0, fewer, 0, i);
                System.arraycopy(now, i + 1, fewer, i, now.length - i - 1);
                rules = fewer;
            }
            if (firings.size() == FIRINGS_KEPT) {
                firings.removeFirst();
            }
            firings.addLast(new Firing(Instant.now(), installed.rule, queue.id, command.cid(), command.opcode()));
            return installed.rule;
        }
        return null;
    }

    /** A rule in force with its counters; guarded by the faults' monitor. */
    private static final class Installed {
        final Rule rule;
        final SplittableRandom random;
        long matched;
        /** Firings left; negative: no limit. */
        long left;

        Installed(Rule rule) {
            this.rule = rule;
            this.random = new SplittableRandom(rule.seed());
            this.left = rule.count();
        }

        /** The rule matched: whether it fires this time (every n-th match, then the probability). */
        boolean fires() {
            if (++matched % rule.every() != 0) {
                return false;
            }
            if (rule.probability() < 1 && random.nextDouble() >= rule.probability()) {
                return false;
            }
            if (left > 0) {
                left--;
            }
            return true;
        }
    }

    /**
     * Which commands a fault hits and what it does to them. {@code queue} -1, {@code nsid} 0 and an
     * empty LBA range ({@code firstLba > lastLba} is not allowed; use the defaults 0..MAX) match any;
     * an LBA range other than the whole only matches Read, Write, Write Zeroes and Compare whose
     * blocks overlap it. {@code count} -1 fires without limit.
     */
    public record Rule(int opcode, int queue, int nsid, long firstLba, long lastLba, long every, double probability,
            long seed, long count, Action action, int status, long delayNanos) {
        private static final int IO_COMPARE = 0x05;

        boolean matches(int qid, Command command) {
            if (command.opcode() != opcode || queue >= 0 && qid != queue || nsid != 0 && command.nsid() != nsid) {
                return false;
            }
            if (firstLba == 0 && lastLba == Long.MAX_VALUE) {
                return true;
            }
            if (qid == 0 || opcode != IO_READ && opcode != IO_WRITE && opcode != IO_WRITE_ZEROES && opcode != IO_COMPARE) {
                return false;
            }
            long slba = command.cdw10And11();
            long last = slba + (command.cdw(12) & 0xffff);
            return slba >= 0 && slba <= lastLba && last >= firstLba;
        }

        @Override
        public String toString() {
            String what = switch (action) {
                case COMPLETE_WITH_STATUS -> "status 0x%x%s".formatted(status & 0x7ff, (status & STATUS_DNR) != 0 ? " DNR" : "");
                case DELAY_COMPLETION -> "completion delayed " + Duration.ofNanos(delayNanos);
                default -> action.name();
            };
            return "opcode 0x%x queue %d nsid %d lba %d..%d every %d p %s count %d: %s".formatted(opcode, queue, nsid,
                    firstLba, lastLba, every, probability, count, what);
        }

        /** Builds a rule: narrow the match, then end with the action. */
        public static final class Builder {
            private final int opcode;
            private int queue = -1, nsid;
            private long firstLba, lastLba = Long.MAX_VALUE, every = 1, seed, count = -1;
            private double probability = 1;

            private Builder(int opcode) {
                this.opcode = opcode;
            }

            /** Only on submission queue {@code qid} (0: admin). */
            public Builder queue(int qid) {
                if (qid < 0 || qid >= NvmeController.VECTORS) {
                    throw new IllegalArgumentException("queue " + qid);
                }
                this.queue = qid;
                return this;
            }

            public Builder namespace(int nsid) {
                if (nsid == 0) {
                    throw new IllegalArgumentException("namespace 0");
                }
                this.nsid = nsid;
                return this;
            }

            /** Only commands whose blocks overlap LBAs {@code first..last} (inclusive). */
            public Builder lbas(long first, long last) {
                if (first < 0 || last < first) {
                    throw new IllegalArgumentException("LBAs %d..%d".formatted(first, last));
                }
                this.firstLba = first;
                this.lastLba = last;
                return this;
            }

            /** Fires on every {@code n}-th matching command (the n-th, 2n-th, ...). */
            public Builder every(long n) {
                if (n < 1) {
                    throw new IllegalArgumentException("every " + n);
                }
                this.every = n;
                return this;
            }

            /** Fires with probability {@code p} per match, drawn from a generator seeded with {@code seed} (repeatable). */
            public Builder probability(double p, long seed) {
                if (!(p > 0 && p <= 1)) {
                    throw new IllegalArgumentException("probability " + p);
                }
                this.probability = p;
                this.seed = seed;
                return this;
            }

            /** Fires {@code n} times, then leaves the rules. */
            public Builder times(long n) {
                if (n < 1) {
                    throw new IllegalArgumentException("times " + n);
                }
                this.count = n;
                return this;
            }

            /**
             * Completes with {@code statusCode} (SCT << 8 | SC, e.g. {@code SC_UNRECOVERED_READ_ERROR}
             * 0x281, {@code SC_WRITE_FAULT} 0x280), with Do Not Retry when {@code doNotRetry}.
             */
            public Rule complete(int statusCode, boolean doNotRetry) {
                if (statusCode <= 0 || (statusCode & ~0x7ff) != 0) {
                    throw new IllegalArgumentException("status 0x%x".formatted(statusCode));
                }
                return rule(Action.COMPLETE_WITH_STATUS, statusCode | (doNotRetry ? STATUS_DNR : 0), 0);
            }

            public Rule neverComplete() {
                return rule(Action.NEVER_COMPLETE, 0, 0);
            }

            /** Sets CSTS.CFS when it fires. */
            public Rule controllerFatal() {
                return rule(Action.CONTROLLER_FATAL, 0, 0);
            }

            /** Runs the command and posts its completion {@code delay} later (other commands go on meanwhile). */
            public Rule delayCompletion(Duration delay) {
                if (delay.isNegative() || delay.isZero()) {
                    throw new IllegalArgumentException("delay " + delay);
                }
                return rule(Action.DELAY_COMPLETION, 0, delay.toNanos());
            }

            private Rule rule(Action action, int status, long delayNanos) {
                return new Rule(opcode, queue, nsid, firstLba, lastLba, every, probability, seed, count, action, status,
                        delayNanos);
            }
        }
    }
}
