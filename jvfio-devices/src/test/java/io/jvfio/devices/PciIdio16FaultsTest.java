package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.EventFd;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultPlan;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.testing.Await;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GPIO card's fault: a glitch on an input line, from Java and in plan words. */
class PciIdio16FaultsTest {
    @TempDir
    Path dir;
    /** The latched inputs after each change, in order. */
    final List<Integer> changes = new CopyOnWriteArrayList<>();
    PciIdio16 card;
    VfioUserServer server;

    @BeforeEach
    void serve() throws Exception {
        card = new PciIdio16() {
            @Override
            protected void inputsChanged() {
                changes.add(inputs());
            }
        };
        server = VfioUserServer.bind(dir.resolve("gpio.sock"), card, ServerOptions.defaults());
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void aGlitchFlipsTheLineAndBackRaisingTheChangeInterrupt() throws Exception {
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow());
             EventFd intx = EventFd.create()) {
            client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            client.read8(Vfio.PCI_BAR2_REGION_INDEX, PciIdio16.IRQ_CONTROL);   // the driver enables the interrupt
            card.setInputs(0x0101);
            Await.until(Duration.ofSeconds(5), () -> changes.size() == 1);
            assertThat(intx.await(Duration.ofSeconds(5))).isTrue();
            intx.read();
            client.write8(Vfio.PCI_BAR2_REGION_INDEX, PciIdio16.IN_0_7, 0);   // clear it
            client.unmaskIntx();

            card.faults().add(FaultRule.on("glitch", new FaultMatch.Now(), new PciIdio16.Glitch(3, Duration.ofMillis(50))));

            Await.until(Duration.ofSeconds(5), () -> changes.size() == 3);
            assertThat(changes).containsExactly(0x0101, 0x0109, 0x0101);
            assertThat(card.inputs()).as("the line is back").isEqualTo(0x0101);
            assertThat(intx.await(Duration.ofSeconds(5))).as("the change interrupt").isTrue();
            assertThat(client.read8(Vfio.PCI_BAR2_REGION_INDEX, PciIdio16.IRQ_STATUS) & PciIdio16.IRQ_PENDING).isNotZero();
            assertThat(card.faults().log()).singleElement().satisfies(f -> assertThat(f.ruleId()).isEqualTo("glitch"));
        }
    }

    @Test
    void aGlitchIsANowActionNamedInPlans() {
        FaultVocabulary words = card.faultVocabulary();
        assertThat(words.actions()).containsKey("glitch");
        FaultAction glitch = words.action("glitch", MapFaultSpec.of("line", "15", "duration", "20ms"));
        assertThat(glitch).isEqualTo(new PciIdio16.Glitch(15, Duration.ofMillis(20)));
        assertThat(glitch.appliesTo(new FaultMatch.Now())).isTrue();
        assertThat(glitch.appliesTo(FaultMatch.RegionAccess.anyOf(2))).isFalse();
        assertThatThrownBy(() -> words.action("glitch", MapFaultSpec.of("line", "16", "duration", "20ms")))
                .hasMessageContaining("r1").hasMessageContaining("0-15");
        assertThat(words.action("no-such-action", MapFaultSpec.of())).isNull();
    }

    @Test
    void theGlitchListsInPlanWordsThatReadBackToTheSameRule() {
        FaultVocabulary words = PciIdio16.faultWords();
        List<FaultRule> rules = FaultPlan.parse("""
                rules:
                  - {id: blip, on: now, action: glitch, line: 15, duration: 20ms}
                  - {id: long, on: now, action: glitch, line: 0, duration: 2s}
                """, words);
        assertThat(rules.getFirst().action()).isEqualTo(new PciIdio16.Glitch(15, Duration.ofMillis(20)));
        for (FaultRule rule : rules) {
            String listed = FaultPlan.describe(rule, words);
            assertThat(FaultPlan.parseRule(listed, words, "x")).as(listed).isEqualTo(rule);
        }
        assertThat(FaultPlan.describe(rules.getFirst(), words)).isEqualTo("{id: blip, on: now, action: glitch, line: 15, duration: 20ms}");
        assertThat(FaultPlan.describe(rules.getFirst().action(), words)).as("in the firing log").isEqualTo("glitch, line: 15, duration: 20ms");
        assertThatThrownBy(() -> FaultPlan.parse("rules: [{id: r, on: region, region: bar2, action: glitch, line: 1, duration: 1ms}]", words))
                .hasMessage("rule r (#1): action: 'glitch' does not apply to on: region");
    }
}
