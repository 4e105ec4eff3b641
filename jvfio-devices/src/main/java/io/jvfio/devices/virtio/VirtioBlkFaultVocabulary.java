package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.BLK_S_IOERR;
import static io.jvfio.devices.virtio.Virtio.BLK_S_UNSUPP;
import static io.jvfio.server.faults.PlanWords.*;

import io.jvfio.devices.virtio.VirtioBlkFaults.RequestType;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultSpec;
import io.jvfio.server.faults.FaultVocabulary;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * virtio-blk's words for fault plans and {@code jvfio fault … inject} ({@link VirtioBlkFaults#vocabulary()}
 * puts them before the core's):
 * <pre>
 * on: virtio-blk-request   type: in,out (any of in, out, flush, get-id, discard, write-zeroes, other;
 *                          default all)   sectors: 2048-2055 (default all)   queue: 0 (default any)
 * action: complete           status: ioerr | unsupp
 * action: delay-completion   delay: 2s
 * action: needs-reset        (with on: virtio-blk-request or on: now)
 * </pre>
 * A delayed completion is {@code delay-completion}, as NVMe's, not {@code delay}: that word is the
 * core's (a delayed region access), and a vocabulary that answered {@code delay} only for some rules
 * would hide the core's word from help and from the list of known actions.
 */
enum VirtioBlkFaultVocabulary implements FaultVocabulary {
    INSTANCE;

    static final String REQUEST = "virtio-blk-request";
    static final String COMPLETE = "complete", DELAY_COMPLETION = "delay-completion", NEEDS_RESET = "needs-reset";
    private static final Map<String, Long> STATUSES = names("ioerr", BLK_S_IOERR, "unsupp", BLK_S_UNSUPP);
    private static final Map<String, String> MATCH_KINDS = descriptions(REQUEST,
            "a virtio-blk request as a queue takes it: type (in,out,flush,get-id,discard,write-zeroes,other), "
                    + "sectors (reads and writes overlapping the range), queue");
    private static final Map<String, String> ACTIONS = descriptions(
            COMPLETE, "[virtio-blk-request] complete the request at once with status ioerr or unsupp, without running it",
            DELAY_COMPLETION, "[virtio-blk-request] run the request and hold its completion for delay (delay: 2s)",
            NEEDS_RESET, "[virtio-blk-request, now] set DEVICE_NEEDS_RESET and raise a configuration interrupt; "
                    + "the request is never completed");

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
        if (!REQUEST.equals(kind)) {
            return null;
        }
        Set<RequestType> types = spec.has("type") ? types(spec) : EnumSet.allOf(RequestType.class);
        long from = 0, to = VirtioBlkFaults.Request.ALL_SECTORS;
        if (spec.has("sectors")) {
            long[] range = spec.range("sectors");
            from = range[0];
            to = range[1] + 1;
        }
        int queue = (int) spec.integer("queue", VirtioBlkFaults.Request.ANY_QUEUE);
        try {
            return new VirtioBlkFaults.Request(types, from, to, queue);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("rule %s: %s".formatted(spec.ruleId(), e.getMessage()), e);
        }
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        return switch (name) {
            case COMPLETE -> complete(spec);
            case DELAY_COMPLETION -> new VirtioBlkFaults.DelayCompletion(spec.duration("delay"));
            case NEEDS_RESET -> new VirtioBlkFaults.NeedsReset();
            default -> null;
        };
    }

    @Override
    public Map<String, Object> matchFields(FaultMatch match) {
        if (!(match instanceof VirtioBlkFaults.Request request)) {
            return null;
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("on", REQUEST);
        if (!request.types().equals(EnumSet.allOf(RequestType.class))) {
            // An EnumSet underneath: the types come in the enum's order, the same each time.
            fields.put("type", request.types().stream().map(VirtioBlkFaultVocabulary::word).collect(Collectors.joining(",")));
        }
        if (request.fromSector() != 0 || request.toSector() != VirtioBlkFaults.Request.ALL_SECTORS) {
            fields.put("sectors", decimalRangeText(request.fromSector(), request.toSector() - 1));
        }
        if (request.queue() != VirtioBlkFaults.Request.ANY_QUEUE) {
            fields.put("queue", request.queue());
        }
        return fields;
    }

    @Override
    public Map<String, Object> actionFields(FaultAction action) {
        Map<String, Object> fields = new LinkedHashMap<>();
        switch (action) {
            case VirtioBlkFaults.Complete complete -> {
                fields.put("action", COMPLETE);
                fields.put("status", nameOf(STATUSES, complete.status()));
            }
            case VirtioBlkFaults.DelayCompletion delay -> {
                fields.put("action", DELAY_COMPLETION);
                fields.put("delay", durationText(delay.delay()));
            }
            case VirtioBlkFaults.NeedsReset _ -> fields.put("action", NEEDS_RESET);
            default -> {
                return null;
            }
        }
        return fields;
    }

    private static Set<RequestType> types(FaultSpec spec) {
        Set<RequestType> types = EnumSet.noneOf(RequestType.class);
        for (String word : spec.text("type").split(",")) {
            String name = word.strip().toUpperCase(Locale.ROOT).replace('-', '_');
            try {
                types.add(RequestType.valueOf(name));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("rule %s, field type: no request type '%s' (in, out, flush, get-id, "
                        .formatted(spec.ruleId(), word.strip()) + "discard, write-zeroes, other)", e);
            }
        }
        return types;
    }

    /** A request type as plans write it: get-id, write-zeroes. */
    private static String word(RequestType type) {
        return type.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static FaultAction complete(FaultSpec spec) {
        long status = spec.named("status", STATUSES);
        try {
            return new VirtioBlkFaults.Complete((int) status);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("rule %s, field status: %s".formatted(spec.ruleId(), e.getMessage()), e);
        }
    }
}
