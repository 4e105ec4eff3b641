package io.jvfio.server.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.testing.Allocations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The registry alone: counting, seeds, retiring, listing, and a hot path that costs nothing without rules. */
class FaultsTest {
    private static final FaultMatch BAR0_READS = new FaultMatch.RegionAccess(0, 0, 0x1000, FaultMatch.Direction.READ);
    private static final FaultAction EIO = new FaultAction.FailAccess(Errno.EIO);

    /** Which of {@code n} reads of BAR0 fire. */
    private static List<Integer> firingReads(Faults faults, int n) {
        List<Integer> fired = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (faults.onRegionAccess(0, 0x10, 4, false) != null) {
                fired.add(i);
            }
        }
        return fired;
    }

    @Test
    void noRuleAllocatesNothing() {
        Faults faults = new Faults();
        long sink = 0;
        for (int i = 0; i < 20_000; i++) {
            sink += faults.onRegionAccess(0, i, 4, false) == null ? 1 : 0;
            sink += faults.onInterrupt(2, i & 7) == null ? 1 : 0;
            sink += faults.onDma(0x1000L * i, 4096, (i & 1) == 0) == null ? 1 : 0;
        }
        long before = Allocations.currentThread();
        for (int i = 0; i < 100_000; i++) {
            sink += faults.onRegionAccess(0, i, 4, false) == null ? 1 : 0;
            sink += faults.onInterrupt(2, i & 7) == null ? 1 : 0;
            sink += faults.onDma(0x1000L * i, 4096, (i & 1) == 0) == null ? 1 : 0;
        }
        long allocated = Allocations.currentThread() - before;
        assertThat(sink).isEqualTo(360_000);
        assertThat(allocated).as("bytes allocated over 300k asks").isLessThan(4096);
    }

    @Test
    void everyNthFiresOnExactlyThoseMatches() {
        Faults faults = new Faults();
        faults.add(FaultRule.on("third", BAR0_READS, EIO).everyNth(3));
        assertThat(firingReads(faults, 9)).containsExactly(2, 5, 8);
    }

    @Test
    void aSeedFiresTheSameMatchesEveryRun() {
        List<List<Integer>> runs = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
            Faults faults = new Faults();
            faults.add(FaultRule.on("coin", BAR0_READS, EIO).withProbability(0.5, 42));
            runs.add(firingReads(faults, 64));
        }
        assertThat(runs.get(1)).isEqualTo(runs.get(0));
        assertThat(runs.get(0).size()).as("a fair coin over 64 matches").isBetween(1, 63);

        Faults other = new Faults();
        other.add(FaultRule.on("coin", BAR0_READS, EIO).withProbability(0.5, 43));
        assertThat(firingReads(other, 64)).as("another seed, another pattern").isNotEqualTo(runs.get(0));
    }

    @Test
    void aRuleRetiresAfterItsCountAndLogsEachFiring() {
        Faults faults = new Faults();
        faults.add(FaultRule.on("twice", BAR0_READS, EIO).times(2));
        assertThat(firingReads(faults, 5)).containsExactly(0, 1);
        assertThat(faults.rules()).isEmpty();
        assertThat(faults.log()).extracting(FaultFiring::ruleId).containsExactly("twice", "twice");
        assertThat(faults.log().getFirst().matched()).isEqualTo("region 0 read 0x10+4");
        assertThat(faults.log().getFirst().action()).isEqualTo(EIO);
        assertThat(faults.firedTotal()).isEqualTo(2);
    }

    @Test
    void aRuleRetiresAfterItsWindow() throws Exception {
        Faults faults = new Faults();
        faults.add(FaultRule.on("brief", BAR0_READS, EIO).within(Duration.ofNanos(1)));
        Thread.sleep(1); // the window has certainly passed
        assertThat(firingReads(faults, 3)).isEmpty();
        assertThat(faults.rules()).isEmpty();
    }

    @Test
    void onlyMatchingAccessesCount() {
        Faults faults = new Faults();
        faults.add(FaultRule.on("window", new FaultMatch.RegionAccess(0, 0x20, 0x28, FaultMatch.Direction.WRITE), EIO));
        assertThat(faults.onRegionAccess(0, 0x20, 4, false)).as("a read").isNull();
        assertThat(faults.onRegionAccess(1, 0x20, 4, true)).as("another region").isNull();
        assertThat(faults.onRegionAccess(0, 0x1c, 4, true)).as("ends where the range starts").isNull();
        assertThat(faults.onRegionAccess(0, 0x28, 4, true)).as("starts where the range ends").isNull();
        assertThat(faults.onRegionAccess(0, 0x1e, 4, true)).as("overlaps its start").isEqualTo(EIO);
        assertThat(faults.onRegionAccess(0, 0x27, 1, true)).as("its last byte").isEqualTo(EIO);
        assertThat(faults.onInterrupt(0, 0)).isNull();
    }

    @Test
    void theFirstRuleThatFiresDecides() {
        Faults faults = new Faults();
        FaultAction ones = new FaultAction.AllOnes();
        faults.add(FaultRule.on("first", BAR0_READS, ones).everyNth(2));
        faults.add(FaultRule.on("second", BAR0_READS, EIO));
        assertThat(faults.onRegionAccess(0, 0, 4, false)).isEqualTo(EIO);
        assertThat(faults.onRegionAccess(0, 0, 4, false)).isEqualTo(ones);
        assertThat(faults.log()).extracting(FaultFiring::ruleId).containsExactly("second", "first");
    }

    @Test
    void rulesAreListedRemovedAndCleared() {
        Faults faults = new Faults();
        FaultRule a = FaultRule.on("a", BAR0_READS, EIO);
        FaultRule b = FaultRule.on("b", new FaultMatch.Interrupt(2, FaultMatch.ANY_VECTOR), new FaultAction.DropInterrupt());
        faults.add(a);
        faults.add(b);
        assertThat(faults.rules()).containsExactly(a, b);
        assertThatThrownBy(() -> faults.add(a)).isInstanceOf(IllegalArgumentException.class);
        assertThat(faults.remove("a")).isTrue();
        assertThat(faults.remove("a")).isFalse();
        assertThat(faults.rules()).containsExactly(b);
        faults.clear();
        assertThat(faults.rules()).isEmpty();
        assertThat(faults.onInterrupt(2, 0)).isNull();
    }

    @Test
    void aRemovedPerformerNoLongerCarriesActionsOut() {
        Faults faults = new Faults();
        List<FaultAction> performed = new ArrayList<>();
        Faults.Performer stalls = action -> action instanceof FaultAction.Stall && performed.add(action);
        faults.addPerformer(stalls);
        FaultAction stall = new FaultAction.Stall(Duration.ofMillis(1));
        faults.add(FaultRule.on("now", new FaultMatch.Now(), stall));
        assertThat(performed).containsExactly(stall);

        assertThat(faults.removePerformer(stalls)).isTrue();
        assertThat(faults.removePerformer(stalls)).isFalse();
        assertThatThrownBy(() -> faults.add(FaultRule.on("again", new FaultMatch.Now(), stall)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(performed).hasSize(1);
    }

    @Test
    void anActionMustFitWhatTheRuleMatches() {
        assertThatThrownBy(() -> FaultRule.on("x", BAR0_READS, new FaultAction.DropInterrupt()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FaultRule.on("x", new FaultMatch.Interrupt(2, 0), EIO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FaultRule.on("x", BAR0_READS, EIO).everyNth(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FaultRule.on("x", BAR0_READS, EIO).withProbability(1.5, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FaultRule.on("x", BAR0_READS, EIO).times(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
