package io.jvfio.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class AwaitTest {
    @Test
    void awaitSeesWhatAnotherThreadDoesAndGivesUpAtTheTimeout() throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return;
            }
            done.set(true);
        });
        assertThat(Await.until(Duration.ofSeconds(10), done::get)).isTrue();
        long start = System.nanoTime();
        assertThat(Await.until(Duration.ofMillis(100), () -> false)).isFalse();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(100_000_000L);
    }
}
