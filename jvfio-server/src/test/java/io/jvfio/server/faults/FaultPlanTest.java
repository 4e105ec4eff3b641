package io.jvfio.server.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Vfio;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Fault plans in YAML and JSON: every word of the core's vocabulary, the common fields, the text form, each error. */
class FaultPlanTest {
    private static final FaultVocabulary CORE = FaultVocabulary.core();
    private static final FaultMatch.Direction ANY = FaultMatch.Direction.ANY;

    /** Every core kind and action once, in YAML. */
    private static final String EVERY_WORD_YAML = """
            seed: 7
            rules:
              - {id: eio, on: region, region: bar0, at: 0x10-0x13, direction: read, action: fail, errno: EIO, every: 3, times: 10}
              - on: region
                region: bar2
                offset: 0x100
                length: 8
                action: all-ones
                for: 2s
              - {on: region, region: config, action: delay, delay: 5ms, direction: write}
              - {on: region, region: 1, at: 0x20, action: drop-connection, times: 1}
              - {on: region, region: rom, action: raise, irq: err}
              - {on: irq, index: msix, action: drop-irq, probability: 0.25}
              - {on: irq, index: msi, vector: 3, action: repeat-irq, extra: 2, probability: 0.5, seed: 99}
              - {on: irq, index: 2, vector: 0, action: delay-irq, delay: 1500us}
              - {on: dma, iova: 0x10000-0x1ffff, direction: write, action: fail-dma}
              - {on: dma, action: fail-dma, errno: ENODEV}
              - {on: dma, iova: [4096, 8191], action: remove-dma-window}
              - {on: region, region: vga, action: stall, duration: 1m}
              - {on: region, region: bar5, action: fail, errno: 19}
            """;

    private static final List<FaultRule> EVERY_WORD = List.of(
            FaultRule.on("eio", new FaultMatch.RegionAccess(0, 0x10, 0x14, FaultMatch.Direction.READ),
                    new FaultAction.FailAccess(Errno.EIO)).everyNth(3).times(10),
            FaultRule.on("rule-2", new FaultMatch.RegionAccess(2, 0x100, 0x108, ANY), new FaultAction.AllOnes())
                    .within(Duration.ofSeconds(2)),
            FaultRule.on("rule-3", new FaultMatch.RegionAccess(Vfio.PCI_CONFIG_REGION_INDEX, 0, Long.MAX_VALUE,
                    FaultMatch.Direction.WRITE), new FaultAction.Delay(Duration.ofMillis(5))),
            FaultRule.on("rule-4", new FaultMatch.RegionAccess(1, 0x20, 0x21, ANY), new FaultAction.DropConnection()).times(1),
            FaultRule.on("rule-5", FaultMatch.RegionAccess.anyOf(Vfio.PCI_ROM_REGION_INDEX),
                    new FaultAction.RaiseInterrupt(Vfio.PCI_ERR_IRQ_INDEX, 0)),
            FaultRule.on("rule-6", new FaultMatch.Interrupt(Vfio.PCI_MSIX_IRQ_INDEX, FaultMatch.ANY_VECTOR),
                    new FaultAction.DropInterrupt()).withProbability(0.25, 7),
            FaultRule.on("rule-7", new FaultMatch.Interrupt(Vfio.PCI_MSI_IRQ_INDEX, 3), new FaultAction.RepeatInterrupt(2))
                    .withProbability(0.5, 99),
            FaultRule.on("rule-8", new FaultMatch.Interrupt(2, 0), new FaultAction.DelayInterrupt(Duration.ofNanos(1_500_000))),
            FaultRule.on("rule-9", new FaultMatch.Dma(0x10000, 0x20000, FaultMatch.Direction.WRITE), new FaultAction.FailDma(Errno.EFAULT)),
            FaultRule.on("rule-10", new FaultMatch.Dma(0, Long.MAX_VALUE, ANY), new FaultAction.FailDma(Errno.ENODEV)),
            FaultRule.on("rule-11", new FaultMatch.Dma(4096, 8192, ANY), new FaultAction.RemoveDmaWindow()),
            FaultRule.on("rule-12", FaultMatch.RegionAccess.anyOf(Vfio.PCI_VGA_REGION_INDEX), new FaultAction.Stall(Duration.ofMinutes(1))),
            FaultRule.on("rule-13", FaultMatch.RegionAccess.anyOf(5), new FaultAction.FailAccess(Errno.ENODEV)));

    @TempDir
    Path dir;

    @Test
    void aYamlPlanSaysEveryCoreKindAndAction() {
        assertThat(FaultPlan.parse(EVERY_WORD_YAML, CORE)).containsExactlyElementsOf(EVERY_WORD);
    }

    @Test
    void aJsonPlanReadsTheSame() {
        String json = """
                {"seed": 7, "rules": [
                  {"id": "eio", "on": "region", "region": "bar0", "at": "0x10-0x13", "direction": "read",
                   "action": "fail", "errno": "EIO", "every": 3, "times": 10},
                  {"on": "region", "region": "BAR2", "offset": 256, "length": "8", "action": "all-ones", "for": "2s"},
                  {"on": "region", "region": "config", "action": "delay", "delay": 5, "direction": "write"},
                  {"on": "region", "region": 1, "at": 32, "action": "drop-connection", "times": 1},
                  {"on": "region", "region": "rom", "action": "raise", "irq": "ERR"},
                  {"on": "irq", "index": "msix", "action": "drop-irq", "probability": 0.25},
                  {"on": "irq", "index": "msi", "vector": 3, "action": "repeat-irq", "extra": 2, "probability": 0.5, "seed": 99},
                  {"on": "irq", "index": 2, "vector": 0, "action": "delay-irq", "delay": "1500us"},
                  {"on": "dma", "iova": [65536, 131071], "direction": "write", "action": "fail-dma"},
                  {"on": "dma", "action": "fail-dma", "errno": "enodev"},
                  {"on": "dma", "iova": "0x1000-0x1fff", "action": "remove-dma-window"},
                  {"on": "region", "region": "vga", "action": "stall", "duration": "1m"},
                  {"on": "region", "region": "bar5", "action": "fail", "errno": 19}
                ]}
                """;
        assertThat(FaultPlan.parse(json, CORE)).containsExactlyElementsOf(EVERY_WORD);
    }

    @Test
    void aPlanFileIsReadAndItsErrorsNameIt() throws Exception {
        Path plan = Files.writeString(dir.resolve("plan.yaml"), EVERY_WORD_YAML);
        assertThat(FaultPlan.read(plan, CORE)).containsExactlyElementsOf(EVERY_WORD);
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "rules: [{on: region}]");
        assertThatThrownBy(() -> FaultPlan.read(bad, CORE)).hasMessageStartingWith(bad + ": rule #1: region: missing");
    }

    @Test
    void withoutASeedProbabilityRulesDrawFromSeedZero() {
        assertThat(FaultPlan.parse("rules: [{on: irq, index: msix, action: drop-irq, probability: 0.1}]", CORE))
                .extracting(FaultRule::frequency).containsExactly(new FaultFrequency.Probability(0.1, 0));
    }

    @Test
    void anEmptyRuleListArmsNothing() {
        assertThat(FaultPlan.parse("seed: 1\nrules: []", CORE)).isEmpty();
    }

    @Test
    void eachRuleReadsBackFromItsTextForm() {
        for (FaultRule rule : EVERY_WORD) {
            String text = FaultPlan.describe(rule, CORE);
            assertThat(FaultPlan.parseRule(text, CORE, "unused")).as(text).isEqualTo(rule);
        }
        assertThat(FaultPlan.describe(EVERY_WORD.getFirst(), CORE))
                .isEqualTo("{id: eio, on: region, region: bar0, at: 0x10-0x13, direction: read, action: fail, errno: EIO, every: 3, times: 10}");
        assertThat(FaultPlan.describe(EVERY_WORD.get(6), CORE))
                .isEqualTo("{id: rule-7, on: irq, index: msi, vector: 3, action: repeat-irq, extra: 2, probability: 0.5, seed: 99}");
    }

    @Test
    void anActionIsShownInThePlansWords() {
        assertThat(FaultPlan.describe(new FaultAction.FailAccess(Errno.EIO), CORE)).isEqualTo("fail, errno: EIO");
        assertThat(FaultPlan.describe(new FaultAction.AllOnes(), CORE)).isEqualTo("all-ones");
    }

    @Test
    void aRuleAloneTakesTheDefaultIdAndAnIdNeedingQuotesReadsBack() {
        FaultRule rule = FaultPlan.parseRule("{on: now, action: raise, irq: req}", CORE, "injected-1");
        assertThat(rule).isEqualTo(FaultRule.on("injected-1", new FaultMatch.Now(),
                new FaultAction.RaiseInterrupt(Vfio.PCI_REQ_IRQ_INDEX, 0)));
        FaultRule odd = FaultRule.on("on: yes", new FaultMatch.Now(), new FaultAction.Stall(Duration.ofMillis(1500)));
        assertThat(FaultPlan.parseRule(FaultPlan.describe(odd, CORE), CORE, "x")).isEqualTo(odd);
        FaultRule numeric = FaultRule.on("0x10", new FaultMatch.Now(), new FaultAction.Stall(Duration.ofSeconds(1)));
        assertThat(FaultPlan.parseRule(FaultPlan.describe(numeric, CORE), CORE, "x")).isEqualTo(numeric);
    }

    @Test
    void aDevicesWordsComeFirstAndTheCoresStillWork() {
        record Poke(int line) implements FaultAction {
            @Override
            public boolean appliesTo(FaultMatch match) {
                return match instanceof FaultMatch.Now;
            }
        }
        FaultVocabulary device = new FaultVocabulary() {
            @Override
            public Map<String, String> matchKinds() {
                return Map.of();
            }

            @Override
            public Map<String, String> actions() {
                return Map.of("poke", "poke a line");
            }

            @Override
            public FaultMatch match(String kind, FaultSpec spec) {
                return null;
            }

            @Override
            public FaultAction action(String name, FaultSpec spec) {
                return name.equals("poke") ? new Poke((int) spec.integer("line")) : null;
            }

            @Override
            public Map<String, Object> actionFields(FaultAction action) {
                if (!(action instanceof Poke poke)) {
                    return null;
                }
                Map<String, Object> fields = new LinkedHashMap<>();
                fields.put("action", "poke");
                fields.put("line", poke.line());
                return fields;
            }
        };
        FaultVocabulary words = FaultVocabulary.combine(device, CORE);
        List<FaultRule> rules = FaultPlan.parse("rules: [{on: now, action: poke, line: 4}, {on: now, action: stall, duration: 1s}]", words);
        assertThat(rules).extracting(FaultRule::action).containsExactly(new Poke(4), new FaultAction.Stall(Duration.ofSeconds(1)));
        assertThat(FaultPlan.describe(rules.getFirst(), words)).isEqualTo("{id: rule-1, on: now, action: poke, line: 4}");
        assertThatThrownBy(() -> FaultPlan.parse("rules: [{on: now, action: poke, line: 4}]", CORE))
                .hasMessageContaining("unknown action 'poke'");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            not yaml                  | rules: [ {on: region               | plan is not valid YAML or JSON
            empty                     | ''                                 | plan is empty
            a list                    | [1, 2]                             | a plan is a mapping with rules:
            unknown top-level field   | '{rule: [], seed: 1}'              | plan: unknown field 'rule'; a plan has seed: and rules:
            no rules                  | 'seed: 3'                          | plan: rules: expected a list of rules, not nothing
            bad plan seed             | '{seed: many, rules: []}'          | plan: seed: expected an integer
            a rule is no mapping      | 'rules: [fail]'                    | rule #1: expected a mapping of fields
            no on                     | 'rules: [{action: fail}]'          | rule #1: on: missing
            unknown kind              | 'rules: [{on: nvme, action: fail}]'| rule #1: on: unknown kind 'nvme'; this device knows: region, irq, dma, now
            no action                 | 'rules: [{on: region, region: bar0}]' | rule #1: action: missing
            unknown action            | 'rules: [{on: region, region: bar0, action: explode}]' | rule #1: action: unknown action 'explode'; this device knows: fail, all-ones
            action does not apply     | 'rules: [{on: irq, index: msix, action: fail}]' | rule #1: action: 'fail' does not apply to on: irq
            unknown field             | 'rules: [{id: media, on: region, region: bar0, lbs: 3, action: fail}]' | rule media (#1): unknown field 'lbs'; this rule's fields are: id, on, region, direction, at, offset, length, action, errno
            region name               | 'rules: [{on: region, region: bar9, action: fail}]' | rule #1: region: expected one of bar0, bar1, bar2, bar3, bar4, bar5, rom, config, vga or a number, not 'bar9'
            errno name                | 'rules: [{on: region, region: bar0, action: fail, errno: EWHAT}]' | rule #1: errno: expected one of EPERM
            errno zero                | 'rules: [{on: region, region: bar0, action: fail, errno: 0}]' | rule #1: errno must be positive, not 0
            direction word            | 'rules: [{on: region, region: bar0, direction: up, action: fail}]' | rule #1: direction: expected read, write or any, not 'up'
            reversed range            | 'rules: [{on: region, region: bar0, at: 0x20-0x10, action: fail}]' | rule #1: at: the range 0x20-0x10 ends before it starts
            bad range                 | 'rules: [{on: region, region: bar0, at: here, action: fail}]' | rule #1: at: expected a range such as 0x1000-0x1fff
            range list of three       | 'rules: [{on: dma, iova: [1, 2, 3], action: fail-dma}]' | rule #1: iova: a range as a list has two elements
            at and offset             | 'rules: [{on: region, region: bar0, at: 4, offset: 4, action: fail}]' | rule #1: at: give either at: or offset:+length:, not both
            length without offset     | 'rules: [{on: region, region: bar0, length: 4, action: fail}]' | rule #1: length: needs offset:
            bad integer               | 'rules: [{on: irq, index: msix, vector: three, action: drop-irq}]' | rule #1: vector: expected an integer (decimal or 0x-hex), not 'three'
            a list for a number       | 'rules: [{on: irq, index: msix, vector: [3], action: drop-irq}]' | rule #1: vector: expected a single value
            bad duration              | 'rules: [{on: region, region: bar0, action: delay, delay: soon}]' | rule #1: delay: expected a duration such as 500ms
            no duration               | 'rules: [{on: region, region: bar0, action: stall}]' | rule #1: duration: missing
            every and probability     | 'rules: [{on: irq, index: msix, action: drop-irq, every: 2, probability: 0.5}]' | rule #1: every: give every: or probability:, not both
            seed without probability  | 'rules: [{on: irq, index: msix, action: drop-irq, seed: 4}]' | rule #1: seed: only a rule with probability: has a seed
            probability above one     | 'rules: [{on: irq, index: msix, action: drop-irq, probability: 1.5}]' | rule #1: probability must be in [0, 1], not 1.5
            bad probability           | 'rules: [{on: irq, index: msix, action: drop-irq, probability: often}]' | rule #1: probability: expected a number, not 'often'
            every zero                | 'rules: [{on: irq, index: msix, action: drop-irq, every: 0}]' | rule #1: every n-th needs n >= 1, not 0
            times zero                | 'rules: [{id: z, on: irq, index: msix, action: drop-irq, times: 0}]' | rule z (#1): maxFirings must be >= 1, not 0
            window zero               | 'rules: [{on: irq, index: msix, action: drop-irq, for: 0s}]' | rule #1: window must be positive
            empty id                  | 'rules: [{id: "", on: now, action: stall, duration: 1s}]' | rule #1: id: expected a name
            duplicate ids             | 'rules: [{id: a, on: now, action: stall, duration: 1s}, {id: a, on: now, action: stall, duration: 2s}]' | rule a (#2): id: another rule has this id
            duplicate field           | 'rules: [{on: now, on: region, action: stall, duration: 1s}]' | plan is not valid YAML or JSON: Duplicate field 'on'
            second rule               | 'rules: [{on: now, action: stall, duration: 1s}, {on: now, action: stall, duration: 1s, times: x}]' | rule #2: times: expected an integer
            """)
    void aBadPlanIsRefusedWithAMessageNamingTheRuleAndField(String what, String plan, String message) {
        assertThatThrownBy(() -> FaultPlan.parse(plan, CORE)).as(what)
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(message);
    }

    @Test
    void aRuleAloneIsNamedByItsIdInErrors() {
        assertThatThrownBy(() -> FaultPlan.parseRule("{id: x, on: irq, index: msix, action: drop-irq, extra: 2}", CORE, "d"))
                .hasMessageStartingWith("rule x: unknown field 'extra'");
        assertThatThrownBy(() -> FaultPlan.parseRule("{on: irq, index: nmi, action: drop-irq}", CORE, "injected-3"))
                .hasMessageStartingWith("rule injected-3: index: expected one of intx, msi, msix, err, req or a number");
    }

    @Test
    void theVocabularyListsItsWordsForHelp() {
        assertThat(CORE.matchKinds()).containsOnlyKeys("region", "irq", "dma", "now");
        assertThat(CORE.actions()).containsOnlyKeys("fail", "all-ones", "delay", "drop-connection", "raise", "drop-irq",
                "repeat-irq", "delay-irq", "fail-dma", "remove-dma-window", "stall");
    }
}
