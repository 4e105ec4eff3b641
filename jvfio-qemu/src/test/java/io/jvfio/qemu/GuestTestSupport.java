package io.jvfio.qemu;

import io.jvfio.testing.GuestTests;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Shared test helpers: the toolchain (under the guest tests' one skip rule, {@link GuestTests}) and one-shot guest runs. */
final class GuestTestSupport {

    private GuestTestSupport() {}

    static GuestToolchain toolchain() throws IOException {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        return GuestToolchain.locate();
    }

    /** Builds an initramfs with the script (and modules) and runs one guest; prints the boot time. */
    static GuestResult boot(GuestToolchain tc, Path tmp, String script, GuestOptions options, String... modules)
            throws IOException, InterruptedException {
        Initramfs initrd = Initramfs.builder(tc).modules(modules).script(script).build(tmp.resolve("initramfs.img"));
        long t0 = System.nanoTime();
        GuestResult r = QemuGuest.run(tc, options.initramfs(initrd.path()));
        System.out.printf("[jvfio-qemu test] guest run took %d ms (exit %d, verdicts %s)%n",
                Duration.ofNanos(System.nanoTime() - t0).toMillis(), r.exitCode(), r.verdicts());
        return r;
    }
}
