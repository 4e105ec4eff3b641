package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;
import static io.jvfio.devices.virtio.VirtioBlkFaults.RequestType.FLUSH;
import static io.jvfio.devices.virtio.VirtioBlkFaults.RequestType.IN;
import static io.jvfio.devices.virtio.VirtioBlkFaults.RequestType.OUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.MapFaultSpec;
import io.jvfio.devices.virtio.VirtioBlkFaults.Complete;
import io.jvfio.devices.virtio.VirtioBlkFaults.DelayCompletion;
import io.jvfio.devices.virtio.VirtioBlkFaults.NeedsReset;
import io.jvfio.devices.virtio.VirtioBlkFaults.Request;
import io.jvfio.devices.virtio.VirtioBlkFaults.RequestType;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultPlan;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.testing.Await;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-blk's own faults seen by {@link UserspaceVirtioDriver} over a real socket: IOERR on a
 * sector range (exactly those reads and writes fail, the data stays), UNSUPP on a type, a held
 * completion, DEVICE_NEEDS_RESET at a request and now; and the plan words for them.
 */
class VirtioBlkFaultsTest {
    static final long DISK = 8 << 20;
    static final long FEATURES = featureBit(F_VERSION_1) | featureBit(BLK_F_FLUSH) | featureBit(BLK_F_BLK_SIZE);

    @TempDir
    Path dir;
    VirtioBlk disk;
    VfioUserServer server;

    @BeforeEach
    void serve() throws Exception {
        disk = VirtioBlk.builder(dir.resolve("disk.img")).create(DISK).build();
        server = VirtioBlkTestSupport.serve(dir, disk);
    }

    @AfterEach
    void stop() {
        server.close();
        disk.shutdown();
    }

    private UserspaceVirtioDriver driver(VfioUserClient client) throws Exception {
        return VirtioBlkTest.readyDriver(client, true, FEATURES);
    }

    private VfioUserClient connect() throws Exception {
        return VfioUserClient.connect(server.socketPath().orElseThrow());
    }

    @Test
    void ioerrOnASectorRangeFailsExactlyTheReadsAndWritesTouchingIt() throws Exception {
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = driver(client)) {
            var r = new VirtioBlkTest.Request(d, d.setUpQueueIfAbsent(0), 4096);
            r.data(4096).fill((byte) 0x5a);
            assertThat(r.submit(BLK_T_OUT, 96, 4096, false)).isEqualTo(BLK_S_OK);   // sectors 96-103, before the rule

            disk.faults().add(FaultRule.on("bad-sectors", Request.sectors(100, 108, IN, OUT), Complete.ioerr()));
            assertThat(r.submit(BLK_T_IN, 92, 4096, true)).as("92-99: just before").isEqualTo(BLK_S_OK);
            assertThat(r.submit(BLK_T_IN, 108, 512, true)).as("108: just after").isEqualTo(BLK_S_OK);
            assertThat(r.submit(BLK_T_IN, 107, 512, true)).as("107: the last bad one").isEqualTo(BLK_S_IOERR);
            r.data(4096).fill((byte) 0);
            assertThat(r.submit(BLK_T_IN, 96, 4096, true)).as("96-103 overlaps").isEqualTo(BLK_S_IOERR);
            assertThat(r.data(4096).toArray(ValueLayout.JAVA_BYTE)).as("not run: nothing copied").containsOnly(0);
            r.data(512).fill((byte) 0x11);
            assertThat(r.submit(BLK_T_OUT, 100, 512, false)).isEqualTo(BLK_S_IOERR);
            assertThat(r.submit(BLK_T_FLUSH, 0, 0, false)).as("a flush has no sector").isEqualTo(BLK_S_OK);
            assertThat(d.status() & STATUS_DEVICE_NEEDS_RESET).isZero();

            assertThat(disk.faults().log()).extracting(FaultFiring::matched).containsExactly(
                    "virtio-blk queue 0 in sector 107+1", "virtio-blk queue 0 in sector 96+8", "virtio-blk queue 0 out sector 100+1");
            disk.faults().clear();
            assertThat(r.submit(BLK_T_IN, 96, 4096, true)).isEqualTo(BLK_S_OK);
            assertThat(r.data(4096).toArray(ValueLayout.JAVA_BYTE)).as("the failed write wrote nothing").containsOnly(0x5a);
        }
    }

    @Test
    void unsuppOnARequestTypeAndOnlyOnIt() throws Exception {
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = driver(client)) {
            var r = new VirtioBlkTest.Request(d, d.setUpQueueIfAbsent(0), 512);
            disk.faults().add(FaultRule.on("no-flush", Request.of(FLUSH), Complete.unsupp()).times(1));
            assertThat(r.submit(BLK_T_IN, 0, 512, true)).isEqualTo(BLK_S_OK);
            assertThat(r.submit(BLK_T_FLUSH, 0, 0, false)).isEqualTo(BLK_S_UNSUPP);
            assertThat(r.submit(BLK_T_FLUSH, 0, 0, false)).as("the rule retired").isEqualTo(BLK_S_OK);
            assertThat(disk.faults().log()).extracting(FaultFiring::matched).containsExactly("virtio-blk queue 0 flush");
        }
    }

    @Test
    void aHeldCompletionIsNotUsedUntilItsTimeAndAResetEndsTheWait() throws Exception {
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = driver(client)) {
            var q = d.setUpQueueIfAbsent(0);
            var r = new VirtioBlkTest.Request(d, q, 512);
            disk.faults().add(FaultRule.on("slow", Request.of(IN), new DelayCompletion(Duration.ofMillis(1))).times(1));
            assertThat(r.submit(BLK_T_IN, 0, 512, true)).as("held a moment, then done").isEqualTo(BLK_S_OK);

            disk.faults().add(FaultRule.on("stuck", Request.of(IN), new DelayCompletion(Duration.ofHours(1))));
            r.post(BLK_T_IN, 0, 512, true);
            Await.until(Duration.ofSeconds(5), () -> r.status() == BLK_S_OK);   // it ran, its status is written
            assertThat(disk.faults().firedTotal()).isEqualTo(2);
            assertThat(q.usedIdx()).as("but it is not used while held").isEqualTo(1);
            d.resetDevice();   // returns once the worker let go of the held request
            assertThat(q.usedIdx()).as("a reset drops it").isEqualTo(1);
        }
    }

    @Test
    void needsResetAtARequestLeavesItUncompletedAndRaisesTheConfigInterrupt() throws Exception {
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = driver(client)) {
            var q = d.setUpQueueIfAbsent(0);
            var r = new VirtioBlkTest.Request(d, q, 512);
            disk.faults().add(FaultRule.on("reset-me", Request.of(OUT), new NeedsReset()));
            r.post(BLK_T_OUT, 0, 512, false);
            assertThat(d.msix.await(0, Duration.ofSeconds(5))).as("config interrupt").isTrue();
            assertThat(d.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();
            assertThat(q.usedIdx()).isZero();
            assertThat(r.status()).as("never completed").isEqualTo(0x7f);
        }
    }

    @Test
    void needsResetNowWhileTheDriverRunsAndNotBefore() throws Exception {
        FaultRule now = FaultRule.on("now", new FaultMatch.Now(), new NeedsReset());
        assertThatThrownBy(() -> disk.faults().add(now)).as("no driver yet").hasMessageContaining("carries out");
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = driver(client)) {
            disk.faults().add(now);
            assertThat(d.msix.await(0, Duration.ofSeconds(5))).as("config interrupt").isTrue();
            assertThat(d.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();
            assertThat(disk.faults().log()).singleElement().satisfies(f -> assertThat(f.matched()).isEqualTo("now"));
        }
    }

    @Test
    void aRequestMatchLooksAtTypeSectorsAndQueue() {
        var point = new VirtioBlkFaults.RequestPoint();
        Request reads = new Request(EnumSet.of(IN), 100, 108, 1);
        assertThat(reads.matches(point.fill(1, BLK_T_IN, 96, 4096))).isTrue();
        assertThat(reads.matches(point.fill(0, BLK_T_IN, 96, 4096))).as("other queue").isFalse();
        assertThat(reads.matches(point.fill(1, BLK_T_OUT, 96, 4096))).as("other type").isFalse();
        assertThat(reads.matches(point.fill(1, BLK_T_IN, 108, 512))).isFalse();
        assertThat(reads.matches(point.fill(1, BLK_T_IN, 92, 4096))).isFalse();
        assertThat(Request.of(RequestType.OTHER).matches(point.fill(0, 99, 0, 0))).as("unknown types").isTrue();
        assertThat(Request.sectors(0, 8, RequestType.values()).matches(point.fill(0, BLK_T_FLUSH, 0, 0)))
                .as("a range matches no flush").isFalse();
        assertThatThrownBy(() -> new Request(Set.of(), 0, 1, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(new NeedsReset().appliesTo(new FaultMatch.Now())).isTrue();
        assertThat(Complete.ioerr().appliesTo(new FaultMatch.Now())).isFalse();
        assertThat(Complete.ioerr().appliesTo(FaultMatch.RegionAccess.anyOf(4))).isFalse();
        assertThatThrownBy(() -> new Complete(BLK_S_OK)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void planWordsMakeTheSameObjects() {
        FaultVocabulary words = disk.faultVocabulary();
        assertThat(words.matchKinds()).containsKey("virtio-blk-request");
        assertThat(words.actions()).containsKeys("complete", "delay-completion", "needs-reset");
        assertThat(words.actions().get("delay")).as("the core's delay is not hidden").startsWith("[region]");
        assertThat(words.match("virtio-blk-request", MapFaultSpec.of("type", "in, write-zeroes", "sectors", "2048-2055", "queue", "1")))
                .isEqualTo(new Request(EnumSet.of(IN, RequestType.WRITE_ZEROES), 2048, 2056, 1));
        assertThat(words.match("virtio-blk-request", MapFaultSpec.of()))
                .isEqualTo(new Request(EnumSet.allOf(RequestType.class), 0, Request.ALL_SECTORS, Request.ANY_QUEUE));
        assertThatThrownBy(() -> words.match("virtio-blk-request", MapFaultSpec.of("type", "trim")))
                .hasMessageContaining("r1").hasMessageContaining("type").hasMessageContaining("trim");
        assertThat(words.action("complete", MapFaultSpec.of("status", "unsupp"))).isEqualTo(Complete.unsupp());
        assertThat(words.action("complete", MapFaultSpec.of("status", "IOERR"))).isEqualTo(Complete.ioerr());
        assertThatThrownBy(() -> words.action("complete", MapFaultSpec.of("status", "0"))).hasMessageContaining("r1");
        assertThat(words.action("needs-reset", MapFaultSpec.of())).isEqualTo(new NeedsReset());
        assertThat(words.action("delay-completion", MapFaultSpec.of("delay", "2s"))).isEqualTo(new DelayCompletion(Duration.ofSeconds(2)));
        assertThat(words.action("delay", MapFaultSpec.of("delay", "2s"))).as("delay is the core's word")
                .isEqualTo(new FaultAction.Delay(Duration.ofSeconds(2)));
    }

    @Test
    void everyVirtioBlkRuleListsInPlanWordsThatReadBackToTheSameRule() {
        FaultVocabulary words = VirtioBlkFaults.vocabulary();
        List<FaultRule> rules = FaultPlan.parse("""
                rules:
                  - {id: media, on: virtio-blk-request, type: "in,out", sectors: 2048-2055, queue: 1, action: complete, status: ioerr}
                  - {id: one, on: virtio-blk-request, type: get-id, sectors: 7, action: complete, status: unsupp, times: 2}
                  - {id: slow, on: virtio-blk-request, type: "flush,write-zeroes", action: delay-completion, delay: 1500ms, every: 3}
                  - {id: any, on: virtio-blk-request, action: needs-reset, probability: 0.25, seed: 9, for: 2m}
                  - {id: now, on: now, action: needs-reset}
                """, words);
        assertThat(rules).hasSize(5);
        assertThat(rules.getFirst().match()).isEqualTo(new Request(EnumSet.of(IN, OUT), 2048, 2056, 1));
        for (FaultRule rule : rules) {
            String listed = FaultPlan.describe(rule, words);
            assertThat(listed).as("listed").doesNotContain("match:").doesNotContain("does:").doesNotContain("VirtioBlk");
            assertThat(FaultPlan.parseRule(listed, words, "x")).as(listed).isEqualTo(rule);
        }
        assertThat(FaultPlan.describe(rules.getFirst(), words))
                .isEqualTo("{id: media, on: virtio-blk-request, type: \"in,out\", sectors: 2048-2055, queue: 1, action: complete, status: ioerr}");
        assertThat(FaultPlan.describe(rules.get(2).action(), words)).isEqualTo("delay-completion, delay: 1500ms");
    }

    @Test
    void coreAndVirtioBlkWordsShareAPlanAndAWrongPairingIsAClearError() {
        FaultVocabulary words = disk.faultVocabulary();
        List<FaultRule> rules = FaultPlan.parse("""
                seed: 7
                rules:
                  - id: bad-sectors                   # a media error on 8 sectors: the guest's reads of them get EIO
                    on: virtio-blk-request
                    type: in,out
                    sectors: 65536-65543
                    action: complete
                    status: ioerr
                  - {id: slow-flush, on: virtio-blk-request, type: flush, action: delay-completion, delay: 2s, every: 10}
                  - {id: slow-config, on: region, region: config, direction: write, action: delay, delay: 5ms}  # the core's delay
                  - {id: lossy, on: irq, index: msix, action: drop-irq, probability: 0.01}
                  - {id: reset-later, on: virtio-blk-request, type: out, action: needs-reset, times: 1, probability: 0.001}
                """, words); // the plan of docs/fault-injection.md's virtio-blk section
        assertThat(rules).extracting(FaultRule::action).containsExactly(Complete.ioerr(), new DelayCompletion(Duration.ofSeconds(2)),
                new FaultAction.Delay(Duration.ofMillis(5)), new FaultAction.DropInterrupt(), new NeedsReset());
        assertThat(rules.getFirst().match()).isEqualTo(Request.sectors(65536, 65544, IN, OUT));
        assertThatThrownBy(() -> FaultPlan.parse("rules: [{id: r, on: virtio-blk-request, action: delay, delay: 2s}]", words))
                .hasMessage("rule r (#1): action: 'delay' does not apply to on: virtio-blk-request");
        assertThatThrownBy(() -> FaultPlan.parse("rules: [{id: r, on: region, region: bar0, action: delay-completion, delay: 2s}]", words))
                .hasMessage("rule r (#1): action: 'delay-completion' does not apply to on: region");
        assertThatThrownBy(() -> FaultPlan.parse("rules: [{id: r, on: now, action: complete, status: ioerr}]", words))
                .hasMessage("rule r (#1): action: 'complete' does not apply to on: now");
    }
}
