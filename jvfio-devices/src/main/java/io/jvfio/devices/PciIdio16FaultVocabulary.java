package io.jvfio.devices;

import static io.jvfio.server.faults.PlanWords.*;

import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultSpec;
import io.jvfio.server.faults.FaultVocabulary;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The GPIO card's word for fault plans ({@link PciIdio16#faultWords()} puts it before the core's):
 * <pre>
 * on: now   action: glitch   line: 3   duration: 20ms
 * </pre>
 */
enum PciIdio16FaultVocabulary implements FaultVocabulary {
    INSTANCE;

    static final String GLITCH = "glitch";
    private static final Map<String, String> ACTIONS = descriptions(GLITCH,
            "[now] flip input line (0-15) for duration (duration: 20ms); each flip raises the change interrupt");

    @Override
    public Map<String, String> matchKinds() {
        return Map.of();
    }

    @Override
    public Map<String, String> actions() {
        return ACTIONS;
    }

    @Override
    public FaultMatch match(String kind, FaultSpec spec) {
        return null;
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        if (!GLITCH.equals(name)) {
            return null;
        }
        long line = spec.integer("line");
        var duration = spec.duration("duration");
        try {
            return new PciIdio16.Glitch((int) line, duration);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("rule %s: %s".formatted(spec.ruleId(), e.getMessage()), e);
        }
    }

    @Override
    public Map<String, Object> actionFields(FaultAction action) {
        if (!(action instanceof PciIdio16.Glitch glitch)) {
            return null;
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("action", GLITCH);
        fields.put("line", glitch.line());
        fields.put("duration", durationText(glitch.duration()));
        return fields;
    }
}
