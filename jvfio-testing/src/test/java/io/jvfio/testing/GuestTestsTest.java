package io.jvfio.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

class GuestTestsTest {
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
