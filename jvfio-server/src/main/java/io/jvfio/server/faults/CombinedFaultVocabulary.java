package io.jvfio.server.faults;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@link FaultVocabulary#combine}: the first part that knows a word decides. */
record CombinedFaultVocabulary(List<FaultVocabulary> parts) implements FaultVocabulary {
    CombinedFaultVocabulary(FaultVocabulary... parts) {
        this(List.of(parts));
    }

    @Override
    public Map<String, String> matchKinds() {
        Map<String, String> all = new LinkedHashMap<>();
        parts.forEach(part -> part.matchKinds().forEach(all::putIfAbsent));
        return all;
    }

    @Override
    public Map<String, String> actions() {
        Map<String, String> all = new LinkedHashMap<>();
        parts.forEach(part -> part.actions().forEach(all::putIfAbsent));
        return all;
    }

    @Override
    public FaultMatch match(String kind, FaultSpec spec) {
        for (FaultVocabulary part : parts) {
            FaultMatch match = part.match(kind, spec);
            if (match != null) {
                return match;
            }
        }
        return null;
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        for (FaultVocabulary part : parts) {
            FaultAction action = part.action(name, spec);
            if (action != null) {
                return action;
            }
        }
        return null;
    }

    @Override
    public Map<String, Object> matchFields(FaultMatch match) {
        for (FaultVocabulary part : parts) {
            Map<String, Object> fields = part.matchFields(match);
            if (fields != null) {
                return fields;
            }
        }
        return null;
    }

    @Override
    public Map<String, Object> actionFields(FaultAction action) {
        for (FaultVocabulary part : parts) {
            Map<String, Object> fields = part.actionFields(action);
            if (fields != null) {
                return fields;
            }
        }
        return null;
    }
}
