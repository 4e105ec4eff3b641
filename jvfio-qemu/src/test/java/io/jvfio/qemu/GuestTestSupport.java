package io.jvfio.qemu;

import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Shared test helpers: the toolchain (skip if absent, fail if absent under CI=true) and one-shot guest runs. */
final class GuestTestSupport {

    private GuestTestSupport() {}

    static GuestToolchain toolchain() throws IOException {
        String reason = GuestToolchain.unavailableReason();
        if (reason != null) {
            if (GuestToolchain.requiredByEnvironment()) {
                fail("CI=true but the guest toolchain is unavailable: " + reason);
            }
            assumeTrue(false, "guest toolchain unavailable: " + reason);
        }
        return GuestToolchain.locate();
    }

    /** Builds an initramfs with the script (and modules) and runs one guest; prints the boot time. */
    static GuestResult boot(GuestToolchain tc, Path tmp, String script, QemuGuest.Options options, String... modules)
            throws IOException, InterruptedException {
        Initramfs initrd = Initramfs.builder(tc).modules(modules).script(script).build(tmp.resolve("initramfs.img"));
        long t0 = System.nanoTime();
        GuestResult r = QemuGuest.run(tc, options.initramfs(initrd.path()));
        System.out.printf("[jvfio-qemu test] guest run took %d ms (exit %d, verdicts %s)%n",
                Duration.ofNanos(System.nanoTime() - t0).toMillis(), r.exitCode(), r.verdicts());
        return r;
    }
}
