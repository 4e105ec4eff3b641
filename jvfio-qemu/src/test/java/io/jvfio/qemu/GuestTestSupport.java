package io.jvfio.qemu;

import io.jvfio.testing.GuestTests;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

/** Shared test helpers: the toolchain (under the guest tests' one skip rule, {@link GuestTests}) and one-shot guest runs. */
final class GuestTestSupport {

    private GuestTestSupport() {}

    static GuestToolchain toolchain() throws IOException {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        return GuestToolchain.locate();
    }

    /**
     * A toolchain laid out in {@code cache} with empty stand-ins for QEMU, the kernel and busybox: enough for what
     * needs no guest (QEMU arguments, staging files into the rootfs).
     */
    static GuestToolchain fakeToolchain(Path cache) throws IOException {
        Files.createDirectories(cache.resolve("rootfs/usr/bin"));
        Path qemu = Files.createFile(cache.resolve("rootfs/usr/bin/qemu-system-x86_64"));
        Files.setPosixFilePermissions(qemu, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(cache.resolve("guest/tree/usr/lib/modules/6.0.0-fake/kernel"));
        Files.createDirectories(cache.resolve("guest/tree/usr/bin"));
        Files.createFile(cache.resolve("guest/tree/usr/bin/busybox"));
        Files.createFile(cache.resolve("guest/vmlinuz"));
        Files.writeString(cache.resolve("guest/kernel-release"), "6.0.0-fake\n");
        return GuestToolchain.locate(cache);
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
