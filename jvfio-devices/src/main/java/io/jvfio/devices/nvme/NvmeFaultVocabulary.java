package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.devices.nvme.NvmeFaultAction.CompletionField;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultSpec;
import io.jvfio.server.faults.FaultVocabulary;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * NVMe's words for fault plans and the control socket ({@link NvmeController#faultVocabulary()}
 * combines them with the core's): the match kind {@code nvme-command} and the NVMe actions, read
 * into {@link NvmeCommand} and {@link NvmeFaultAction}s. Opcodes, statuses, completion fields and
 * warnings may be named or given as numbers.
 */
enum NvmeFaultVocabulary implements FaultVocabulary {
    INSTANCE;

    /** NVM command set opcodes (§6), for rules on I/O queues. */
    static final Map<String, Long> IO_OPCODES = names(
            "flush", IO_FLUSH, "write", IO_WRITE, "read", IO_READ, "write-uncorrectable", 0x04, "compare", 0x05,
            "write-zeroes", IO_WRITE_ZEROES, "dsm", IO_DATASET_MANAGEMENT, "dataset-management", IO_DATASET_MANAGEMENT);
    /** Admin opcodes (§5), for rules with {@code admin: true} or {@code queue: 0}. */
    static final Map<String, Long> ADMIN_OPCODES = names(
            "delete-sq", ADMIN_DELETE_SQ, "create-sq", ADMIN_CREATE_SQ, "get-log-page", ADMIN_GET_LOG_PAGE,
            "delete-cq", ADMIN_DELETE_CQ, "create-cq", ADMIN_CREATE_CQ, "identify", ADMIN_IDENTIFY, "abort", ADMIN_ABORT,
            "set-features", ADMIN_SET_FEATURES, "get-features", ADMIN_GET_FEATURES,
            "async-event-request", ADMIN_ASYNC_EVENT_REQUEST, "doorbell-buffer-config", ADMIN_DOORBELL_BUFFER_CONFIG);
    /** Statuses as SCT << 8 | SC (§4.6.1.2): generic, command specific, media and data integrity. */
    static final Map<String, Long> STATUSES = names(
            "invalid-opcode", SC_INVALID_OPCODE, "invalid-field", SC_INVALID_FIELD,
            "data-transfer-error", SC_DATA_TRANSFER_ERROR, "internal-error", SC_INTERNAL,
            "abort-requested", SC_ABORT_REQUESTED, "invalid-namespace", SC_INVALID_NAMESPACE,
            "lba-out-of-range", SC_LBA_OUT_OF_RANGE, "capacity-exceeded", 0x081, "namespace-not-ready", 0x082,
            "write-to-read-only", NvmeFaults.SC_WRITE_TO_READ_ONLY_RANGE,
            "write-fault", SC_WRITE_FAULT, "unrecovered-read-error", SC_UNRECOVERED_READ_ERROR,
            "guard-check-error", 0x282, "application-tag-check-error", 0x283, "reference-tag-check-error", 0x284,
            "compare-failure", 0x285, "access-denied", 0x286, "deallocated-or-unwritten", 0x287);
    /** SMART critical warning bits (§5.14.1.2). */
    static final Map<String, Long> WARNINGS = names(
            "spare", SMART_WARNING_SPARE, "temperature", SMART_WARNING_TEMPERATURE, "reliability", SMART_WARNING_RELIABILITY,
            "read-only", SMART_WARNING_READ_ONLY, "volatile-backup", SMART_WARNING_VOLATILE_BACKUP,
            "persistent-memory-read-only", 0x20);
    static final Map<String, Long> THERMAL_STATES = names("hot", 1, "normal", 0);
    private static final Map<String, Long> FIELDS = fieldNames();

    private static final Map<String, String> MATCH_KINDS = Map.of("nvme-command",
            "an NVMe command as it is fetched: opcode (a name or number), admin: true or queue (default: any I/O queue), "
                    + "namespace, lbas (first-last)");
    private static final Map<String, String> ACTIONS = descriptions(
            "complete", "complete the command without running it: status (a name or SCT << 8 | SC), dnr (default false)",
            "never-complete", "never complete the command (an Abort or a reset takes it)",
            "delay-completion", "run the command, post its completion delay later",
            "controller-fatal", "set CSTS.CFS (on a command: it never completes)",
            "corrupt-completion", "run the command, spoil its completion's field: command-id, phase, sq-head or sq-id",
            "subsystem-reset", "(now) an NVM subsystem reset: the controller resets, CSTS.NSSRO",
            "thermal", "(now) state: hot (default: past the over-temperature threshold, a SMART event) or normal",
            "critical-warning", "(now) set SMART critical warning bits: warning (a name or the bits)",
            "read-only", "(now) the media goes read-only: writes fail, critical warning bit 3",
            "attach-namespace", "(now) attach an image file as a new namespace: image (a path), size (bytes, to create it; default: it exists)",
            "detach-namespace", "(now) detach namespace (its id) and close its image");

    @Override
    public Map<String, String> matchKinds() {
        return MATCH_KINDS;
    }

    @Override
    public Map<String, String> actions() {
        return ACTIONS;
    }

    @Override
    public FaultMatch match(String kind, FaultSpec spec) {
        if (!kind.equals("nvme-command")) {
            return null;
        }
        boolean admin = spec.flag("admin", false);
        long queue = spec.integer("queue", admin ? 0 : NvmeCommand.ANY_IO_QUEUE);
        if (admin && queue != 0) {
            throw new IllegalArgumentException("rule %s: queue %d is not the admin queue".formatted(spec.ruleId(), queue));
        }
        long opcode = spec.has("opcode") ? spec.named("opcode", queue == 0 ? ADMIN_OPCODES : IO_OPCODES)
                : NvmeCommand.ANY_OPCODE;
        long namespace = spec.integer("namespace", NvmeCommand.ANY_NAMESPACE);
        long[] lbas = spec.has("lbas") ? spec.range("lbas") : new long[] {0, Long.MAX_VALUE};
        return built(spec, kind, () -> new NvmeCommand(Math.toIntExact(opcode), Math.toIntExact(queue),
                Math.toIntExact(namespace), lbas[0], lbas[1]));
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        return switch (name) {
            case "complete" -> {
                long status = spec.named("status", STATUSES);
                boolean dnr = spec.flag("dnr", false);
                yield built(spec, name, () -> new NvmeFaultAction.Complete(Math.toIntExact(status), dnr));
            }
            case "never-complete" -> new NvmeFaultAction.NeverComplete();
            case "delay-completion" -> {
                Duration delay = spec.duration("delay");
                yield built(spec, name, () -> new NvmeFaultAction.DelayCompletion(delay));
            }
            case "controller-fatal" -> new NvmeFaultAction.ControllerFatal();
            case "corrupt-completion" -> {
                long field = spec.named("field", FIELDS);
                yield built(spec, name, () -> new NvmeFaultAction.CorruptCompletion(CompletionField.values()[Math.toIntExact(field)]));
            }
            case "subsystem-reset" -> new NvmeFaultAction.SubsystemReset();
            case "thermal" -> new NvmeFaultAction.Thermal(!spec.has("state") || spec.named("state", THERMAL_STATES) != 0);
            case "critical-warning" -> {
                long warning = spec.named("warning", WARNINGS);
                yield built(spec, name, () -> new NvmeFaultAction.CriticalWarning(Math.toIntExact(warning)));
            }
            case "read-only" -> new NvmeFaultAction.ReadOnly();
            case "attach-namespace" -> new NvmeFaultAction.AttachNamespace(Path.of(spec.text("image")), spec.integer("size", 0));
            case "detach-namespace" -> new NvmeFaultAction.DetachNamespace(Math.toIntExact(spec.integer("namespace")));
            default -> null;
        };
    }

    /** {@code make}'s match or action; its complaint about a value read from {@code spec} names the rule. */
    private static <T> T built(FaultSpec spec, String what, Supplier<T> make) {
        try {
            return make.get();
        } catch (IllegalArgumentException | ArithmeticException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("rule %s: %s: %s".formatted(spec.ruleId(), what, e.getMessage()), e);
        }
    }

    /** The completion fields by name (command-id, phase, sq-head, sq-id) → their ordinal. */
    private static Map<String, Long> fieldNames() {
        Map<String, Long> names = new LinkedHashMap<>();
        Arrays.stream(CompletionField.values())
                .forEach(field -> names.put(field.name().toLowerCase(Locale.ROOT).replace('_', '-'), (long) field.ordinal()));
        return Map.copyOf(names);
    }

    /** Alternating names and numbers, in order. */
    private static Map<String, Long> names(Object... pairs) {
        Map<String, Long> names = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            names.put((String) pairs[i], ((Number) pairs[i + 1]).longValue());
        }
        return Collections.unmodifiableMap(names);
    }

    private static Map<String, String> descriptions(String... pairs) {
        Map<String, String> descriptions = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            descriptions.put(pairs[i], pairs[i + 1]);
        }
        return Collections.unmodifiableMap(descriptions);
    }
}
