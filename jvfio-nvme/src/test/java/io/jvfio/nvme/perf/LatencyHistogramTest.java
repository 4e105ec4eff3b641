package io.jvfio.nvme.perf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LatencyHistogramTest {

    @Test
    void smallValuesAreExactAndLargeOnesWithinThreePercent() {
        Random random = new Random(7);
        for (int i = 0; i < 100_000; i++) {
            long value = i < 64 ? i : random.nextLong(1, Long.MAX_VALUE >>> random.nextInt(60));
            int index = LatencyHistogram.index(value);
            long highest = LatencyHistogram.highest(index);
            assertThat(highest).as("bucket of %d", value).isGreaterThanOrEqualTo(value);
            if (value < 32) {
                assertThat(highest).isEqualTo(value);
            } else {
                assertThat((double) (highest - value) / value).as("error at %d", value).isLessThan(1.0 / 32);
                assertThat(index == 0 || LatencyHistogram.highest(index - 1) < value).as("%d lies in one bucket", value).isTrue();
            }
        }
    }

    @Test
    void percentilesMinMaxAndMean() {
        LatencyHistogram h = new LatencyHistogram();
        assertThat(h.percentile(50)).isZero();
        for (long v = 1; v <= 1000; v++) {
            h.record(v * 1000);   // 1 µs .. 1 ms
        }
        assertThat(h.count()).isEqualTo(1000);
        assertThat(h.min()).isEqualTo(1000);
        assertThat(h.max()).isEqualTo(1_000_000);
        assertThat(h.mean()).isCloseTo(500_500, within(0.001));
        assertThat((double) h.percentile(50)).isCloseTo(500_000, within(500_000 / 32.0));
        assertThat((double) h.percentile(99)).isCloseTo(990_000, within(990_000 / 32.0));
        assertThat((double) h.percentile(99.9)).isCloseTo(999_000, within(999_000 / 32.0));
        assertThat(h.percentile(100)).isEqualTo(1_000_000);
        assertThat((double) h.percentile(0)).isCloseTo(1000, within(1000 / 32.0));
    }

    @Test
    void addsAndResets() {
        LatencyHistogram a = new LatencyHistogram(), b = new LatencyHistogram();
        a.record(10);
        b.record(20);
        b.record(-5);   // a clock that went back counts as 0
        a.add(b);
        assertThat(a.count()).isEqualTo(3);
        assertThat(a.min()).isZero();
        assertThat(a.max()).isEqualTo(20);
        assertThat(a.percentile(50)).isEqualTo(10);
        a.reset();
        assertThat(a.count()).isZero();
        assertThat(a.min()).isZero();
        assertThat(a.max()).isZero();
    }
}
