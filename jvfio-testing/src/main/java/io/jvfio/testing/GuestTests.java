package io.jvfio.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The one rule for tests that boot a guest in QEMU: they are skipped only where QEMU cannot be
 * provisioned, that is where its cache does not exist and CI is not set. Under CI (the environment
 * variable {@code CI} set) a missing QEMU is a failure, and so is a cache that is there but unusable.
 */
public final class GuestTests {
    private GuestTests() {}

    /** Whether the tests run under CI: the environment variable {@code CI} is set (to anything). */
    public static boolean underCi() {
        String ci = System.getenv("CI");
        return ci != null && !ci.isEmpty();
    }

    /**
     * Returns when the guest toolchain can be used ({@code unavailableReason} is null); otherwise
     * skips the calling test where QEMU cannot be provisioned (no {@code cacheDir}, CI not set) and
     * fails it everywhere else.
     */
    public static void requireToolchain(String unavailableReason, Path cacheDir) {
        if (unavailableReason == null) {
            return;
        }
        if (underCi()) {
            Assertions.fail("CI is set but the guest toolchain is unavailable: " + unavailableReason);
        }
        if (!Files.exists(cacheDir)) {
            Assumptions.abort("QEMU is not provisioned here (scripts/provision-guest.sh): " + unavailableReason);
        }
        Assertions.fail("the guest toolchain in " + cacheDir + " is there but unusable: " + unavailableReason);
    }
}
