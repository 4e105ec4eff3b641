package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.BLK_S_IOERR;
import static io.jvfio.devices.virtio.Virtio.BLK_S_UNSUPP;

import io.jvfio.devices.virtio.VirtioBlkFaults.RequestType;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultSpec;
import io.jvfio.server.faults.FaultVocabulary;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * virtio-blk's words for fault plans and {@code jvfio fault … inject} ({@link VirtioBlk#faultVocabulary()}
 * puts them before the core's):
 * <pre>
 * on: virtio-blk-request   type: in,out (any of in, out, flush, get-id, discard, write-zeroes, other;
 *                          default all)   sectors: 2048-2055 (default all)   queue: 0 (default any)
 * action: complete         status: ioerr | unsupp
 * action: delay            delay: 2s     (only with on: virtio-blk-request; otherwise the core's delay)
 * action: needs-reset      (with on: virtio-blk-request or on: now)
 * </pre>
 */
enum VirtioBlkFaultVocabulary implements FaultVocabulary {
    INSTANCE;

    static final String REQUEST = "virtio-blk-request";
    static final String COMPLETE = "complete", DELAY = "delay", NEEDS_RESET = "needs-reset";
    private static final Map<String, Long> STATUSES = Map.of("ioerr", (long) BLK_S_IOERR, "unsupp", (long) BLK_S_UNSUPP);

    @Override
    public Map<String, String> matchKinds() {
        return Map.of(REQUEST, "a virtio-blk request as a queue takes it: type (in,out,flush,get-id,discard,"
                + "write-zeroes,other), sectors (reads and writes overlapping the range), queue");
    }

    @Override
    public Map<String, String> actions() {
        return Map.of(
                COMPLETE, "complete the request at once with status ioerr or unsupp, without running it",
                DELAY, "(on virtio-blk-request) run the request and hold its completion for delay",
                NEEDS_RESET, "set DEVICE_NEEDS_RESET and raise a configuration interrupt; the request is never completed");
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

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        return switch (name) {
            case COMPLETE -> complete(spec);
            // "delay" is also the core's word for a delayed region access: ours only on our requests.
            case DELAY -> onRequest(spec) ? new VirtioBlkFaults.DelayCompletion(spec.duration("delay")) : null;
            case NEEDS_RESET -> new VirtioBlkFaults.NeedsReset();
            default -> null;
        };
    }

    private static FaultAction complete(FaultSpec spec) {
        long status = spec.named("status", STATUSES);
        try {
            return new VirtioBlkFaults.Complete((int) status);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("rule %s, field status: %s".formatted(spec.ruleId(), e.getMessage()), e);
        }
    }

    private static boolean onRequest(FaultSpec spec) {
        return spec.has("on") && REQUEST.equals(spec.text("on"));
    }
}
