package io.jvfio.server.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the control socket reads from a registry: rules with their counts, the log from a firing on, listeners. */
class FaultsLogTest {
    private static final FaultRule EVERY_OTHER_READ = FaultRule.on("eio",
            new FaultMatch.RegionAccess(0, 0, 0x100, FaultMatch.Direction.READ), new FaultAction.FailAccess(Errno.EIO)).everyNth(2);

    @Test
    void statusCountsMatchesAndFiringsPerRule() {
        Faults faults = new Faults();
        faults.add(EVERY_OTHER_READ);
        for (int i = 0; i < 5; i++) {
            faults.onRegionAccess(0, 0x10, 4, false);
        }
        faults.onRegionAccess(0, 0x10, 4, true);
        assertThat(faults.status()).containsExactly(new Faults.RuleStatus(EVERY_OTHER_READ, 5, 2));
    }

    @Test
    void theLogIsReadFromAFiringOnAndSaysWhereToGoOn() {
        Faults faults = new Faults();
        faults.add(EVERY_OTHER_READ);
        for (int i = 0; i < 6; i++) {
            faults.onRegionAccess(0, i, 1, false);
        }
        Faults.LogExcerpt all = faults.logSince(0);
        assertThat(all.next()).isEqualTo(3);
        assertThat(all.firings()).extracting(FaultFiring::matched)
                .containsExactly("region 0 read 0x1+1", "region 0 read 0x3+1", "region 0 read 0x5+1");
        assertThat(faults.logSince(2).firings()).extracting(FaultFiring::matched).containsExactly("region 0 read 0x5+1");
        assertThat(faults.logSince(3)).isEqualTo(new Faults.LogExcerpt(3, List.of()));
        assertThat(faults.logSince(-4).firings()).hasSize(3);
    }

    @Test
    void aFullLogStartsAtTheOldestFiringKept() {
        Faults faults = new Faults();
        faults.add(FaultRule.on("all", FaultMatch.RegionAccess.anyOf(0), new FaultAction.AllOnes()));
        int fired = Faults.LOG_CAPACITY + 3;
        for (int i = 0; i < fired; i++) {
            faults.onRegionAccess(0, i, 1, false);
        }
        Faults.LogExcerpt excerpt = faults.logSince(0);
        assertThat(excerpt.next()).isEqualTo(fired);
        assertThat(excerpt.firings()).hasSize(Faults.LOG_CAPACITY);
        assertThat(excerpt.firings().getFirst().matched()).isEqualTo("region 0 read 0x3+1");
    }

    @Test
    void listenersHearEveryFiringUntilRemoved() {
        Faults faults = new Faults();
        List<String> heard = new ArrayList<>();
        java.util.function.Consumer<FaultFiring> listener = f -> heard.add(f.ruleId() + " " + f.matched());
        faults.addListener(listener);
        faults.addPerformer(action -> true);
        faults.add(EVERY_OTHER_READ);
        faults.add(FaultRule.on("now", new FaultMatch.Now(), new FaultAction.Stall(java.time.Duration.ofSeconds(1))));
        faults.onRegionAccess(0, 0, 1, false);
        faults.onRegionAccess(0, 0, 1, false);
        faults.removeListener(listener);
        faults.onRegionAccess(0, 0, 1, false);
        faults.onRegionAccess(0, 0, 1, false);
        assertThat(heard).containsExactly("now now", "eio region 0 read 0x0+1");
        assertThat(faults.firedTotal()).isEqualTo(3);
    }
}
