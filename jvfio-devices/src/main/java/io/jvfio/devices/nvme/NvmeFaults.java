package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.devices.storage.BlockImage;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFrequency;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.server.faults.Faults;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The NVMe controller's fault registry (issue 18): the device's one {@link Faults}, holding the
 * core's rules (region accesses, interrupts, DMA) and NVMe's own, which are ordinary
 * {@link FaultRule}s. An {@link NvmeCommand} rule matches commands as the submission queues fetch
 * them — by opcode, queue, namespace and LBA range; every n-th match or a seeded probability; a
 * number of times, a time window — and its {@link NvmeFaultAction} acts on the command: complete
 * with a chosen status without running it; run it and post its completion later (a timer thread,
 * started by the first such fault); never complete it ({@link CommandDrops} keeps it for Aborts and
 * resets); run it and corrupt a field of its completion; or set CSTS.CFS. Controller-wide actions —
 * CFS, an NVM subsystem reset, a thermal event, critical warnings, read-only media — come as
 * {@link FaultMatch.Now} rules, carried out by the controller when added. Every firing is in the
 * registry's {@link #log()} beside the core's.
 *
 * <p>{@link #when} builds NVMe command rules in Java. With no rule armed the command path pays one
 * volatile read and allocates nothing; with rules armed each queue refills its own
 * {@link NvmeCommandPoint}; a firing allocates its log entry.
 */
public final class NvmeFaults extends Faults {
    /** Attempted Write to Read Only Range (command specific 0x82), the status of writes once read-only. */
    public static final int SC_WRITE_TO_READ_ONLY_RANGE = 0x182;
    /** How far past the over-temperature threshold a thermal event takes the composite temperature, in kelvin. */
    static final int OVERHEAT_KELVIN = 10;
    private static final int[] WRITE_OPCODES = {IO_WRITE, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT};
    private static final System.Logger LOG = System.getLogger(NvmeFaults.class.getName());
    /** Numbers the rules built without an id. */
    private static final AtomicLong RULE_NUMBERS = new AtomicLong();

    /** What the queue does with a command after the faults looked at it. */
    enum Verdict {
        /** No rule fired (or one that corrupts the completion): run the command. */
        RUN,
        /** Complete it now with the status set on it, without running it. */
        COMPLETE,
        /** Keep it, never complete it (unless aborted). */
        WITHHOLD,
        /** Run it, complete it later ({@link Command#completionDelayNanos}). */
        DELAY
    }

    /** Set once, by the controller's constructor (the registry is made before the controller). */
    private NvmeController controller;
    private final CommandDrops drops = new CommandDrops(this);
    /** Posts delayed completions; started by the first one, guarded by this object's monitor. */
    private ScheduledExecutorService timer;

    NvmeFaults() {}

    /** The controller carries out the controller-wide actions of {@link FaultMatch.Now} rules. */
    void bind(NvmeController controller) {
        this.controller = controller;
        addPerformer(this::performOnController);
    }

    /** The words of NVMe fault plans — {@code nvme-command} and NVMe's actions — then the core's. */
    public static FaultVocabulary vocabulary() {
        return FaultVocabulary.combine(NvmeFaultVocabulary.INSTANCE, FaultVocabulary.core());
    }

    /** A rule for commands with {@code opcode} on any queue (admin or I/O: give {@link RuleBuilder#queue}). */
    public static RuleBuilder when(int opcode) {
        if ((opcode & ~0xff) != 0) {
            throw new IllegalArgumentException("opcode 0x%x".formatted(opcode));
        }
        return new RuleBuilder(opcode);
    }

    /** A fresh rule id: {@code prefix}-n. */
    static String ruleId(String prefix) {
        return prefix + "-" + RULE_NUMBERS.incrementAndGet();
    }

    /**
     * The media goes read-only, as a worn-out drive does: from now on Write, Write Zeroes and
     * Dataset Management on I/O queues complete with Attempted Write to Read Only Range (DNR), reads
     * go on, and SMART critical warning bit 3 (read-only) is set — reported as an asynchronous event
     * if the host enabled it. {@link #clear()} lets writes through again; the warning stays set.
     * The same as adding a Now rule with {@link NvmeFaultAction.ReadOnly}.
     */
    public void readOnly() {
        add(FaultRule.on(ruleId("read-only"), new FaultMatch.Now(), new NvmeFaultAction.ReadOnly()));
    }

    /** The commands kept uncompleted, and how Aborts of them are answered. */
    public CommandDrops commandDrops() {
        return drops;
    }

    /** Decides what becomes of {@code command}, just fetched from {@code queue}; sets its status or completion fault. */
    Verdict apply(SubmissionQueue queue, Command command) {
        if (isEmpty()) {
            return Verdict.RUN;
        }
        NvmeCommandPoint point = queue.faultPoint();
        point.fill(queue.id, command);
        if (!(ask(point) instanceof NvmeFaultAction fired)) {
            return Verdict.RUN;
        }
        LOG.log(System.Logger.Level.INFO, "fault {0} on command {1} (opcode 0x{2}) of queue {3}", fired, command.cid(),
                Integer.toHexString(command.opcode()), queue.id);
        return switch (fired) {
            case NvmeFaultAction.Complete complete -> {
                command.status = complete.statusWord();
                yield Verdict.COMPLETE;
            }
            case NvmeFaultAction.NeverComplete never -> {
                drops.withhold(queue, command);
                yield Verdict.WITHHOLD;
            }
            case NvmeFaultAction.DelayCompletion delay -> {
                command.completionDelayNanos = delay.delay().toNanos();
                yield Verdict.DELAY;
            }
            case NvmeFaultAction.ControllerFatal fatal -> {
                drops.withhold(queue, command);
                controller.fatal("fault injected on command %d of queue %d".formatted(command.cid(), queue.id), null);
                yield Verdict.WITHHOLD;
            }
            case NvmeFaultAction.CorruptCompletion corrupt -> {
                command.corruptedField = corrupt.field();
                yield Verdict.RUN;
            }
            default -> Verdict.RUN;   // controller-wide actions fire on Now rules only
        };
    }

    /** The controller's {@link Faults.Performer}: the controller-wide actions. */
    private boolean performOnController(FaultAction action) {
        if (!(action instanceof NvmeFaultAction nvme)) {
            return false;
        }
        switch (nvme) {
            case NvmeFaultAction.ControllerFatal fatal -> controller.fatal("fault injected", null);
            case NvmeFaultAction.SubsystemReset reset -> controller.subsystemReset();
            case NvmeFaultAction.Thermal thermal -> controller.events.temperature(thermal.overheated()
                    ? overheated(controller.features.overThreshold) : LogPages.TEMPERATURE);
            case NvmeFaultAction.CriticalWarning warning -> controller.events.criticalWarning(warning.bits());
            case NvmeFaultAction.AttachNamespace attach -> attachNamespace(attach);
            case NvmeFaultAction.DetachNamespace detach -> detachNamespace(detach);
            case NvmeFaultAction.ReadOnly readOnly -> {
                for (int write : WRITE_OPCODES) {
                    add(new FaultRule(ruleId("read-only-write"),
                            new NvmeCommand(write, NvmeCommand.ANY_IO_QUEUE, NvmeCommand.ANY_NAMESPACE, 0, Long.MAX_VALUE),
                            FaultFrequency.always(), FaultRule.UNLIMITED, FaultRule.FOREVER,
                            new NvmeFaultAction.Complete(SC_WRITE_TO_READ_ONLY_RANGE, true)));
                }
                controller.events.criticalWarning(SMART_WARNING_READ_ONLY);
            }
            default -> {
                return false;   // a command's action: nothing to do away from a command
            }
        }
        return true;
    }

    private void attachNamespace(NvmeFaultAction.AttachNamespace attach) {
        try {
            BlockImage image = BlockImage.open(attach.image(), attach.createBytes(), false);
            try {
                controller.attachNamespace(image);
            } catch (RuntimeException e) {
                image.close();
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("attach namespace " + attach.image() + ": " + e.getMessage(), e);
        }
    }

    private void detachNamespace(NvmeFaultAction.DetachNamespace detach) {
        try {
            controller.detachNamespace(detach.nsid()).close();
        } catch (IOException e) {
            throw new UncheckedIOException("detach namespace %d: %s".formatted(detach.nsid(), e.getMessage()), e);
        }
    }

    /** A temperature past the over-temperature threshold, and never below the normal one. */
    static int overheated(int overThreshold) {
        return Math.min(Math.max(overThreshold, LogPages.TEMPERATURE) + OVERHEAT_KELVIN, 0xffff);
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

    /**
     * Builds an {@link NvmeCommand} rule: narrow the match, choose how often and how long, then end
     * with the action. Without {@link #id} the rule is named {@code nvme-n}.
     */
    public static final class RuleBuilder {
        private final int opcode;
        private String id;
        private int queue = NvmeCommand.ANY_QUEUE, namespace = NvmeCommand.ANY_NAMESPACE;
        private long firstLba, lastLba = Long.MAX_VALUE, times = FaultRule.UNLIMITED;
        private FaultFrequency frequency;
        private Duration window = FaultRule.FOREVER;

        private RuleBuilder(int opcode) {
            this.opcode = opcode;
        }

        /** Names the rule (unique among the armed ones), for the log and for {@code remove}. */
        public RuleBuilder id(String ruleId) {
            this.id = ruleId;
            return this;
        }

        /** Only on submission queue {@code qid} (0: admin). */
        public RuleBuilder queue(int qid) {
            if (qid < 0 || qid >= NvmeController.VECTORS) {
                throw new IllegalArgumentException("queue " + qid);
            }
            this.queue = qid;
            return this;
        }

        public RuleBuilder namespace(int nsid) {
            if (nsid == 0) {
                throw new IllegalArgumentException("namespace 0");
            }
            this.namespace = nsid;
            return this;
        }

        /** Only Read, Write, Write Zeroes and Compare whose blocks overlap LBAs {@code first..last} (inclusive). */
        public RuleBuilder lbas(long first, long last) {
            if (first < 0 || last < first) {
                throw new IllegalArgumentException("LBAs %d..%d".formatted(first, last));
            }
            this.firstLba = first;
            this.lastLba = last;
            return this;
        }

        /** Fires on every {@code n}-th matching command (the n-th, 2n-th, ...). */
        public RuleBuilder every(long n) {
            return frequency(new FaultFrequency.EveryNth(n));
        }

        /** Fires with probability {@code p} per match, drawn from a generator seeded with {@code seed} (repeatable). */
        public RuleBuilder probability(double p, long seed) {
            if (!(p > 0 && p <= 1)) {
                throw new IllegalArgumentException("probability " + p);
            }
            return frequency(new FaultFrequency.Probability(p, seed));
        }

        private RuleBuilder frequency(FaultFrequency chosen) {
            if (frequency != null) {
                throw new IllegalStateException("every n-th or a probability, not both: " + frequency + ", " + chosen);
            }
            this.frequency = chosen;
            return this;
        }

        /** Fires {@code n} times, then leaves the rules. */
        public RuleBuilder times(long n) {
            if (n < 1) {
                throw new IllegalArgumentException("times " + n);
            }
            this.times = n;
            return this;
        }

        /** Leaves the rules {@code duration} after it was added. */
        public RuleBuilder within(Duration duration) {
            this.window = duration;
            return this;
        }

        /**
         * Completes with {@code statusCode} ({@code SCT << 8 | SC}, e.g. {@code SC_UNRECOVERED_READ_ERROR}
         * 0x281, {@code SC_WRITE_FAULT} 0x280), with Do Not Retry when {@code doNotRetry}.
         */
        public FaultRule complete(int statusCode, boolean doNotRetry) {
            return rule(new NvmeFaultAction.Complete(statusCode, doNotRetry));
        }

        public FaultRule neverComplete() {
            return rule(new NvmeFaultAction.NeverComplete());
        }

        /** Sets CSTS.CFS when it fires. */
        public FaultRule controllerFatal() {
            return rule(new NvmeFaultAction.ControllerFatal());
        }

        /** Runs the command and posts its completion {@code delay} later (other commands go on meanwhile). */
        public FaultRule delayCompletion(Duration delay) {
            return rule(new NvmeFaultAction.DelayCompletion(delay));
        }

        /** Runs the command and spoils {@code field} of its completion. */
        public FaultRule corruptCompletion(NvmeFaultAction.CompletionField field) {
            return rule(new NvmeFaultAction.CorruptCompletion(field));
        }

        private FaultRule rule(FaultAction action) {
            return new FaultRule(id != null ? id : ruleId("nvme"), new NvmeCommand(opcode, queue, namespace, firstLba, lastLba),
                    frequency != null ? frequency : FaultFrequency.always(), times, window, action);
        }
    }
}
