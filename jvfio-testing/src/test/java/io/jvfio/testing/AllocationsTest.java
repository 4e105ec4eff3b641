package io.jvfio.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AllocationsTest {
    static volatile byte[] kept;

    @Test
    void countsWhatThisThreadAllocates() {
        long before = Allocations.currentThread();
        kept = new byte[1 << 20];
        assertThat(Allocations.currentThread() - before).isGreaterThanOrEqualTo(1 << 20);
    }
}
