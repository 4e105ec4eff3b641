package io.jvfio.server.faults;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Fault plans: the rules of {@code jvfio serve … --faults PLAN} and {@code jvfio fault … inject},
 * written in YAML or JSON (read by one YAML parser: JSON is YAML's subset) and turned into
 * {@link FaultRule}s with a device's {@link FaultVocabulary}. A plan is a mapping with an optional
 * {@code seed:} and a list {@code rules:}; each rule has the common fields ({@code id}, {@code on},
 * {@code action}, {@code every} or {@code probability} with {@code seed}, {@code times}, {@code for})
 * and those of its kind and action. A field that neither asks for is an error, as is anything else
 * wrong; the message names the rule and the field. docs/fault-injection.md has the schema.
 *
 * <p>{@link #describe} writes an armed rule back in this form (one line, YAML flow), which
 * {@link #parseRule} reads back to an equal rule.
 */
public final class FaultPlan {
    /** The fields every rule may have, whatever its kind and action. */
    static final Set<String> COMMON_FIELDS = Set.of("id", "on", "action", "every", "probability", "seed", "times", "for");
    private static final Set<String> PLAN_FIELDS = Set.of("seed", "rules");
    /** Text that YAML reads back as the same string without quotes. */
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_./+-]*");
    private static final Set<String> YAML_WORDS = Set.of("true", "false", "null", "yes", "no", "on", "off", "y", "n", "~");
    private static final ObjectMapper YAML = YAMLMapper.builder(YAMLFactory.builder().build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private FaultPlan() {}

    /**
     * The rules of the plan {@code text} (YAML or JSON), in order.
     *
     * @throws IllegalArgumentException if the text is no plan, or a rule is wrong (the message names it)
     */
    public static List<FaultRule> parse(String text, FaultVocabulary vocabulary) {
        JsonNode plan = tree(text, "plan");
        if (!plan.isObject()) {
            throw new IllegalArgumentException("a plan is a mapping with rules: (and optionally seed:), not " + kindOf(plan));
        }
        plan.fieldNames().forEachRemaining(name -> {
            if (!PLAN_FIELDS.contains(name)) {
                throw new IllegalArgumentException("plan: unknown field '%s'; a plan has seed: and rules:".formatted(name));
            }
        });
        long seed = 0;
        if (plan.has("seed")) {
            Long parsed = plan.get("seed").isIntegralNumber() && plan.get("seed").canConvertToLong()
                    ? Long.valueOf(plan.get("seed").longValue()) : PlanRuleSpec.parseInteger(plan.get("seed").asText());
            if (parsed == null || plan.get("seed").isContainerNode()) {
                throw new IllegalArgumentException("plan: seed: expected an integer, not " + plan.get("seed"));
            }
            seed = parsed;
        }
        JsonNode rules = plan.get("rules");
        if (rules == null || !rules.isArray()) {
            throw new IllegalArgumentException("plan: rules: expected a list of rules, not " + (rules == null ? "nothing" : kindOf(rules)));
        }
        List<FaultRule> parsed = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < rules.size(); i++) {
            FaultRule rule = rule(rules.get(i), vocabulary, i + 1, "rule-" + (i + 1), seed);
            if (!ids.add(rule.id())) {
                throw new IllegalArgumentException("rule %s (#%d): id: another rule has this id".formatted(rule.id(), i + 1));
            }
            parsed.add(rule);
        }
        return parsed;
    }

    /** The rules of the plan in {@code file}; errors name the file. */
    public static List<FaultRule> read(Path file, FaultVocabulary vocabulary) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("fault plan " + file + " does not exist", e);
        }
        try {
            return parse(text, vocabulary);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * One rule written as in a plan's {@code rules:} list, e.g. the YAML flow
     * {@code {on: region, region: bar0, at: 0x14, action: fail, errno: EIO}}; {@code defaultId} if it
     * has no {@code id:}.
     */
    public static FaultRule parseRule(String text, FaultVocabulary vocabulary, String defaultId) {
        return rule(tree(text, "rule"), vocabulary, 0, defaultId, 0);
    }

    /** A rule read from {@code node} (a mapping); {@code index} is its place in a plan from 1, or 0 alone. */
    static FaultRule rule(JsonNode node, FaultVocabulary vocabulary, int index, String defaultId, long planSeed) {
        String place = index > 0 ? "rule #" + index : "the rule";
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("%s: expected a mapping of fields (on:, action:, …), not %s".formatted(place, kindOf(node)));
        }
        JsonNode idNode = node.get("id");
        if (idNode != null && (!idNode.isValueNode() || idNode.asText().isBlank())) {
            throw new IllegalArgumentException(place + ": id: expected a name, not " + idNode);
        }
        String id = idNode == null ? defaultId : idNode.asText().strip();
        String where = idNode == null ? (index > 0 ? place : "rule " + id)
                : (index > 0 ? "rule %s (#%d)".formatted(id, index) : "rule " + id);
        PlanRuleSpec spec = new PlanRuleSpec(node, id, where);
        try {
            return rule(spec, vocabulary, planSeed);
        } catch (IllegalArgumentException e) {
            String message = Objects.requireNonNullElse(e.getMessage(), e.toString());
            String own = "rule " + id + ": ";
            if (message.startsWith(where)) {
                throw e;
            }
            throw new IllegalArgumentException(where + ": " + (message.startsWith(own) ? message.substring(own.length()) : message), e);
        }
    }

    private static FaultRule rule(PlanRuleSpec spec, FaultVocabulary vocabulary, long planSeed) {
        spec.has("id"); // read by the caller; asked here so that it counts as known
        String kind = spec.text("on");
        FaultMatch match = vocabulary.match(kind, spec);
        if (match == null) {
            throw spec.error("on", "unknown kind '%s'; this device knows: %s".formatted(kind, String.join(", ", vocabulary.matchKinds().keySet())));
        }
        String name = spec.text("action");
        FaultAction action = vocabulary.action(name, spec);
        if (action == null) {
            throw spec.error("action", "unknown action '%s'; this device knows: %s".formatted(name, String.join(", ", vocabulary.actions().keySet())));
        }
        if (!action.appliesTo(match)) {
            throw spec.error("action", "'%s' does not apply to on: %s".formatted(name, kind));
        }
        FaultRule rule = FaultRule.on(spec.ruleId(), match, action);
        if (spec.has("every") && spec.has("probability")) {
            throw spec.error("every", "give every: or probability:, not both");
        }
        if (spec.has("every")) {
            rule = rule.everyNth(spec.integer("every"));
        }
        if (spec.has("probability")) {
            rule = rule.withProbability(spec.number("probability"), spec.integer("seed", planSeed));
        } else if (spec.has("seed")) {
            throw spec.error("seed", "only a rule with probability: has a seed");
        }
        if (spec.has("times")) {
            rule = rule.times(spec.integer("times"));
        }
        if (spec.has("for")) {
            rule = rule.within(spec.duration("for"));
        }
        List<String> unknown = spec.unasked();
        if (!unknown.isEmpty()) {
            List<String> known = new ArrayList<>(spec.asked());
            throw new IllegalArgumentException("%s: unknown field '%s'; this rule's fields are: %s"
                    .formatted(spec.where(), unknown.getFirst(), String.join(", ", known)));
        }
        return rule;
    }

    /**
     * {@code rule} in the plan's words, one line of YAML flow that {@link #parseRule} reads back to an
     * equal rule, e.g. {@code {id: r1, on: region, region: bar0, at: 0x14-0x17, action: fail, errno: EIO, times: 3}}.
     * A match or action the vocabulary cannot say is shown as its Java text under {@code match:} or
     * {@code does:} (which do not read back).
     */
    public static String describe(FaultRule rule, FaultVocabulary vocabulary) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("id", rule.id());
        Map<String, Object> match = vocabulary.matchFields(rule.match());
        if (match != null) {
            fields.putAll(match);
        } else {
            fields.put("match", rule.match().toString());
        }
        Map<String, Object> action = vocabulary.actionFields(rule.action());
        if (action != null) {
            fields.putAll(action);
        } else {
            fields.put("does", rule.action().toString());
        }
        switch (rule.frequency()) {
            case FaultFrequency.EveryNth e when e.n() == 1 -> { }
            case FaultFrequency.EveryNth e -> fields.put("every", e.n());
            case FaultFrequency.Probability p -> {
                fields.put("probability", p.probability());
                fields.put("seed", p.seed());
            }
        }
        if (rule.maxFirings() != FaultRule.UNLIMITED) {
            fields.put("times", rule.maxFirings());
        }
        if (!rule.window().equals(FaultRule.FOREVER)) {
            fields.put("for", CoreFaultVocabulary.durationText(rule.window()));
        }
        StringBuilder text = new StringBuilder("{");
        for (Iterator<Map.Entry<String, Object>> it = fields.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Object> field = it.next();
            text.append(field.getKey()).append(": ").append(scalar(field.getValue()));
            text.append(it.hasNext() ? ", " : "}");
        }
        return text.toString();
    }

    /** {@code action} in the plan's words for the firing log, e.g. {@code fail errno: EIO}. */
    public static String describe(FaultAction action, FaultVocabulary vocabulary) {
        Map<String, Object> fields = vocabulary.actionFields(action);
        if (fields == null) {
            return action.toString();
        }
        StringBuilder text = new StringBuilder();
        fields.forEach((name, value) -> {
            if (name.equals("action")) {
                text.append(value);
            } else {
                text.append(text.isEmpty() ? "" : ", ").append(name).append(": ").append(scalar(value));
            }
        });
        return text.toString();
    }

    /** {@code text} as a YAML tree (JSON too); an error says where it stopped making sense. */
    static JsonNode tree(String text, String what) {
        try {
            JsonNode node = YAML.readTree(text);
            if (node == null || node.isMissingNode() || node.isNull()) {
                throw new IllegalArgumentException(what + " is empty");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("%s is not valid YAML or JSON: %s".formatted(what, e.getOriginalMessage().strip()
                    + (e.getLocation() != null ? " (line %d, column %d)".formatted(e.getLocation().getLineNr(), e.getLocation().getColumnNr()) : "")), e);
        }
    }

    private static String scalar(Object value) {
        if (value instanceof Number || value instanceof Boolean) {
            return value.toString();
        }
        String text = value.toString();
        if (PLAIN.matcher(text).matches() && !YAML_WORDS.contains(text.toLowerCase(Locale.ROOT))
                && PlanRuleSpec.parseInteger(text) == null) {
            return text;
        }
        return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private static String kindOf(JsonNode node) {
        if (node == null) {
            return "nothing";
        }
        return node.isArray() ? "a list" : node.isObject() ? "a mapping" : "'" + node.asText() + "'";
    }
}
