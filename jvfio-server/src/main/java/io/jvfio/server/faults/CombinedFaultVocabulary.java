package io.jvfio.server.faults;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

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
        return firstAnswer(part -> part.match(kind, spec));
    }

    @Override
    public FaultAction action(String name, FaultSpec spec) {
        return firstAnswer(part -> part.action(name, spec));
    }

    @Override
    public Map<String, Object> matchFields(FaultMatch match) {
        return firstAnswer(part -> part.matchFields(match));
    }

    @Override
    public Map<String, Object> actionFields(FaultAction action) {
        return firstAnswer(part -> part.actionFields(action));
    }

    /** The first part's answer that is not null (the part knows the word), or null. */
    private <T> T firstAnswer(Function<FaultVocabulary, T> question) {
        for (FaultVocabulary part : parts) {
            T answer = question.apply(part);
            if (answer != null) {
                return answer;
            }
        }
        return null;
    }
}
