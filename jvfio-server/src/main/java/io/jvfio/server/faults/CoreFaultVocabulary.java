package io.jvfio.server.faults;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Vfio;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The core's words for {@link FaultVocabulary#core()}: the matches {@code region}, {@code irq},
 * {@code dma} and {@code now}, and the actions on them ({@link FaultAction}'s records). The fields
 * of each are in docs/fault-injection.md ("Fault plans").
 */
enum CoreFaultVocabulary implements FaultVocabulary {
    INSTANCE;

    /** VFIO's PCI region indices by name. */
    static final Map<String, Long> REGIONS = names("bar0", 0, "bar1", 1, "bar2", 2, "bar3", 3, "bar4", 4, "bar5", 5,
            "rom", Vfio.PCI_ROM_REGION_INDEX, "config", Vfio.PCI_CONFIG_REGION_INDEX, "vga", Vfio.PCI_VGA_REGION_INDEX);
    /** VFIO's PCI irq indices by name. */
    static final Map<String, Long> IRQS = names("intx", Vfio.PCI_INTX_IRQ_INDEX, "msi", Vfio.PCI_MSI_IRQ_INDEX,
            "msix", Vfio.PCI_MSIX_IRQ_INDEX, "err", Vfio.PCI_ERR_IRQ_INDEX, "req", Vfio.PCI_REQ_IRQ_INDEX);
    /** Linux's errno names (EIO, EFAULT, ENODEV, …) with their numbers. */
    static final Map<String, Long> ERRNOS = errnoNames();

    private static final Map<String, String> KINDS = ordered(
            "region", "a region access (region: bar0..bar5|rom|config|vga|N; at: FIRST-LAST or offset:+length:; direction: read|write|any)",
            "irq", "an interrupt delivered (index: intx|msi|msix|err|req|N; vector: N, default any)",
            "dma", "the device's DMA to or from client memory (iova: FIRST-LAST, default any; direction: read|write|any)",
            "now", "no match: the action is carried out once, when the rule is added");
    private static final Map<String, String> ACTIONS = ordered(
            "fail", "[region] the access fails with an errno (errno: EIO|EFAULT|ENODEV|…|N, default EIO)",
            "all-ones", "[region] as after a surprise removal: reads return all ones, writes are dropped",
            "delay", "[region] the access is handled late (delay: 10ms)",
            "drop-connection", "[region] the server hangs up on the client",
            "raise", "[region, now] raise an interrupt as well (irq: err|req|msix|…; vector: N, default 0)",
            "drop-irq", "[irq] the interrupt is not delivered",
            "repeat-irq", "[irq] the interrupt is delivered more times (extra: N, default 1)",
            "delay-irq", "[irq] the interrupt is delivered late (delay: 5ms)",
            "fail-dma", "[dma] the transfer fails (errno: default EFAULT)",
            "remove-dma-window", "[dma] the DMA window is gone until the client maps it again",
            "stall", "[region, now] the device stalls (duration: 2s)");

    @Override
    public Map<String, String> matchKinds() {
        return KINDS;
    }

    @Override
    public Map<String, String> actions() {
        return ACTIONS;
    }

    @Override
    public FaultMatch match(String kind, FaultSpec spec) {
        return switch (kind) {
            case "region" -> regionAccess(spec);
            case "irq" -> new FaultMatch.Interrupt((int) spec.named("index", IRQS),
                    (int) spec.integer("vector", FaultMatch.ANY_VECTOR));
            case "dma" -> {
                long[] iova = spec.has("iova") ? spec.range("iova") : new long[] {0, Long.MAX_VALUE - 1};
                yield new FaultMatch.Dma(iova[0], iova[1] + 1, direction(spec));
            }
            case "now" -> new FaultMatch.Now();
            default -> null;
        };
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        return switch (name) {
            case "fail" -> new FaultAction.FailAccess(errno(spec, Errno.EIO));
            case "all-ones" -> new FaultAction.AllOnes();
            case "delay" -> new FaultAction.Delay(spec.duration("delay"));
            case "drop-connection" -> new FaultAction.DropConnection();
            case "raise" -> new FaultAction.RaiseInterrupt((int) spec.named("irq", IRQS), (int) spec.integer("vector", 0));
            case "drop-irq" -> new FaultAction.DropInterrupt();
            case "repeat-irq" -> new FaultAction.RepeatInterrupt((int) spec.integer("extra", 1));
            case "delay-irq" -> new FaultAction.DelayInterrupt(spec.duration("delay"));
            case "fail-dma" -> new FaultAction.FailDma(errno(spec, Errno.EFAULT));
            case "remove-dma-window" -> new FaultAction.RemoveDmaWindow();
            case "stall" -> new FaultAction.Stall(spec.duration("duration"));
            default -> null;
        };
    }

    @Override
    public Map<String, Object> matchFields(FaultMatch match) {
        Map<String, Object> fields = new LinkedHashMap<>();
        switch (match) {
            case FaultMatch.RegionAccess r -> {
                fields.put("on", "region");
                fields.put("region", nameOf(REGIONS, r.region()));
                if (r.fromOffset() != 0 || r.toOffset() != Long.MAX_VALUE) {
                    fields.put("at", rangeText(r.fromOffset(), r.toOffset() - 1));
                }
                putDirection(fields, r.direction());
            }
            case FaultMatch.Interrupt i -> {
                fields.put("on", "irq");
                fields.put("index", nameOf(IRQS, i.index()));
                if (i.vector() != FaultMatch.ANY_VECTOR) {
                    fields.put("vector", i.vector());
                }
            }
            case FaultMatch.Dma d -> {
                fields.put("on", "dma");
                if (d.fromIova() != 0 || d.toIova() != Long.MAX_VALUE) {
                    fields.put("iova", rangeText(d.fromIova(), d.toIova() - 1));
                }
                putDirection(fields, d.direction());
            }
            case FaultMatch.Now n -> fields.put("on", "now");
            default -> {
                return null;
            }
        }
        return fields;
    }

    @Override
    public Map<String, Object> actionFields(FaultAction action) {
        Map<String, Object> fields = new LinkedHashMap<>();
        switch (action) {
            case FaultAction.FailAccess f -> put(fields, "fail", "errno", nameOf(ERRNOS, f.errno()));
            case FaultAction.AllOnes a -> fields.put("action", "all-ones");
            case FaultAction.Delay d -> put(fields, "delay", "delay", durationText(d.delay()));
            case FaultAction.DropConnection d -> fields.put("action", "drop-connection");
            case FaultAction.RaiseInterrupt r -> {
                put(fields, "raise", "irq", nameOf(IRQS, r.index()));
                fields.put("vector", r.vector());
            }
            case FaultAction.DropInterrupt d -> fields.put("action", "drop-irq");
            case FaultAction.RepeatInterrupt r -> put(fields, "repeat-irq", "extra", r.extra());
            case FaultAction.DelayInterrupt d -> put(fields, "delay-irq", "delay", durationText(d.delay()));
            case FaultAction.FailDma f -> put(fields, "fail-dma", "errno", nameOf(ERRNOS, f.errno()));
            case FaultAction.RemoveDmaWindow r -> fields.put("action", "remove-dma-window");
            case FaultAction.Stall s -> put(fields, "stall", "duration", durationText(s.duration()));
            default -> {
                return null;
            }
        }
        return fields;
    }

    /** A duration in the plan's words: the largest unit that says it exactly (1500ms, 2s, 3m). */
    static String durationText(Duration duration) {
        long nanos = duration.toNanos();
        if (nanos == 0) {
            return "0ms";
        }
        String[] units = {"h", "m", "s", "ms", "us"};
        long[] sizes = {3_600_000_000_000L, 60_000_000_000L, 1_000_000_000L, 1_000_000L, 1_000L};
        for (int i = 0; i < units.length; i++) {
            if (nanos % sizes[i] == 0) {
                return nanos / sizes[i] + units[i];
            }
        }
        return nanos + "ns";
    }

    /** An inclusive range as a plan writes it: 0x10-0x13, or 0x10 for one. */
    static String rangeText(long first, long last) {
        return first == last ? "0x%x".formatted(first) : "0x%x-0x%x".formatted(first, last);
    }

    private static FaultMatch.RegionAccess regionAccess(FaultSpec spec) {
        int region = (int) spec.named("region", REGIONS);
        FaultMatch.Direction direction = direction(spec);
        if (spec.has("at")) {
            if (spec.has("offset") || spec.has("length")) {
                throw new IllegalArgumentException("rule %s: at: give either at: or offset:+length:, not both".formatted(spec.ruleId()));
            }
            long[] at = spec.range("at");
            return new FaultMatch.RegionAccess(region, at[0], at[1] + 1, direction);
        }
        if (spec.has("offset")) {
            long offset = spec.integer("offset");
            long length = spec.integer("length", 1);
            if (offset < 0 || length < 1) {
                throw new IllegalArgumentException("rule %s: offset: 0x%x with length %d is no range of bytes"
                        .formatted(spec.ruleId(), offset, length));
            }
            return new FaultMatch.RegionAccess(region, offset, offset + length, direction);
        }
        if (spec.has("length")) {
            throw new IllegalArgumentException("rule %s: length: needs offset:".formatted(spec.ruleId()));
        }
        return new FaultMatch.RegionAccess(region, 0, Long.MAX_VALUE, direction);
    }

    private static FaultMatch.Direction direction(FaultSpec spec) {
        if (!spec.has("direction")) {
            return FaultMatch.Direction.ANY;
        }
        String word = spec.text("direction");
        return switch (word.strip().toLowerCase(Locale.ROOT)) {
            case "read" -> FaultMatch.Direction.READ;
            case "write" -> FaultMatch.Direction.WRITE;
            case "any" -> FaultMatch.Direction.ANY;
            default -> throw new IllegalArgumentException("rule %s: direction: expected read, write or any, not '%s'"
                    .formatted(spec.ruleId(), word));
        };
    }

    private static int errno(FaultSpec spec, int otherwise) {
        return spec.has("errno") ? (int) spec.named("errno", ERRNOS) : otherwise;
    }

    private static void putDirection(Map<String, Object> fields, FaultMatch.Direction direction) {
        if (direction != FaultMatch.Direction.ANY) {
            fields.put("direction", direction.name().toLowerCase(Locale.ROOT));
        }
    }

    private static void put(Map<String, Object> fields, String action, String field, Object value) {
        fields.put("action", action);
        fields.put(field, value);
    }

    /** The name {@code value} has in {@code names}, or the number itself. */
    private static Object nameOf(Map<String, Long> names, long value) {
        for (Map.Entry<String, Long> e : names.entrySet()) {
            if (e.getValue() == value) {
                return e.getKey();
            }
        }
        return value;
    }

    private static Map<String, Long> names(Object... nameThenValue) {
        Map<String, Long> names = new LinkedHashMap<>();
        for (int i = 0; i < nameThenValue.length; i += 2) {
            names.put((String) nameThenValue[i], ((Number) nameThenValue[i + 1]).longValue());
        }
        return Collections.unmodifiableMap(names);
    }

    private static Map<String, String> ordered(String... nameThenText) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < nameThenText.length; i += 2) {
            map.put(nameThenText[i], nameThenText[i + 1]);
        }
        return Collections.unmodifiableMap(map);
    }

    private static Map<String, Long> errnoNames() {
        Map<String, Long> names = new LinkedHashMap<>();
        for (int errno = 1; errno < 200; errno++) {
            String name = Errno.name(errno);
            if (!name.startsWith("errno ")) {
                names.put(name, (long) errno);
            }
        }
        names.put("ENOTSUP", (long) Errno.ENOTSUP);
        names.put("EWOULDBLOCK", (long) Errno.EWOULDBLOCK);
        return Collections.unmodifiableMap(names);
    }
}
