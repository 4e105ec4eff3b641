package io.jvfio.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

class TestingTest {
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

    @Test
    void anOpenFileIsALeakUntilClosed(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("f");
        java.nio.file.Files.writeString(file, "x");
        OpenFds before = OpenFds.snapshot();
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            assertThat(OpenFds.count()).isGreaterThan(0);
            assertThatThrownBy(() -> before.assertNoneLeaked(Duration.ofMillis(20)))
                    .isInstanceOf(AssertionError.class).hasMessageContaining(file.toString());
        }
        before.assertNoneLeaked(Duration.ZERO);
    }

    @Test
    void guestTestsRunWithAToolchainAndSkipOnlyWithoutACacheOutsideCi(@TempDir Path dir) {
        GuestTests.requireToolchain(null, dir.resolve("absent"));
        if (GuestTests.underCi()) {
            assertThatThrownBy(() -> GuestTests.requireToolchain("no QEMU", dir.resolve("absent")))
                    .isInstanceOf(AssertionError.class);
        } else {
            assertThatThrownBy(() -> GuestTests.requireToolchain("no QEMU", dir.resolve("absent")))
                    .isInstanceOf(TestAbortedException.class);
        }
        assertThatThrownBy(() -> GuestTests.requireToolchain("no QEMU", dir)).isInstanceOf(AssertionError.class);
    }
}
