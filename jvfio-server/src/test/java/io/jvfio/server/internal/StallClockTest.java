package io.jvfio.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.server.faults.FaultAction;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The server's stall: a longer stall is kept, a shorter one does not cut it, the server's close ends it. */
class StallClockTest {
    @Test
    void aShorterStallDoesNotCutALongerOneAndEndEndsIt() {
        StallClock clock = new StallClock();
        assertThat(clock.isStalled()).isFalse();
        clock.awaitEnd(); // returns at once

        assertThat(clock.perform(new FaultAction.Stall(Duration.ofHours(1)))).isTrue();
        clock.stallFor(Duration.ofNanos(1));
        assertThat(clock.isStalled()).isTrue();

        clock.end();
        assertThat(clock.isStalled()).isFalse();
        clock.awaitEnd();
    }

    @Test
    void itCarriesOutStallsOnly() {
        StallClock clock = new StallClock();
        assertThat(clock.perform(new FaultAction.RaiseInterrupt(3, 0))).isFalse();
        assertThat(clock.isStalled()).isFalse();
    }

    @Test
    void aStallTooLongToCountIsAsLongAsThereIs() {
        StallClock clock = new StallClock();
        clock.stallFor(Duration.ofSeconds(Long.MAX_VALUE));
        assertThat(clock.isStalled()).isTrue();
        clock.end();
    }
}
