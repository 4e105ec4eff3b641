package io.jvfio.server.faults;

import java.util.Map;

/**
 * The core's words for {@link FaultVocabulary#core()}. CONTRACT STUB: the plan-file work fills it in
 * (region/irq/dma/now matches; fail/all-ones/delay/drop-connection/raise/drop-irq/repeat-irq … actions).
 */
enum CoreFaultVocabulary implements FaultVocabulary {
    INSTANCE;

    @Override
    public Map<String, String> matchKinds() {
        return Map.of();
    }

    @Override
    public Map<String, String> actions() {
        return Map.of();
    }

    @Override
    public FaultMatch match(String kind, FaultSpec spec) {
        return null;
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        return null;
    }
}
