package io.jvfio.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real guest boots under TCG (each ~7-8 s on an idle 2-core machine), one at a time. */
class GuestBootTest {

    @TempDir Path tmp;

    @Test
    void toolchainReportsQemu111() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        assertThat(tc.qemuVersion()).startsWith("11.1.");
        assertThat(tc.kernelRelease()).isNotBlank();
        assertThat(tc.kernel()).isRegularFile();
    }

    @Test
    void bootsAndPassesWithTheGuestKernelRelease() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, """
                echo "JVFIO-RESULT: $(uname -r)"
                echo "JVFIO-RESULT: boot=$JVFIO_BOOT"
                [ -d /proc/self ] && [ -d /sys/bus/pci ] && [ -c /dev/null ]
                """, QemuGuest.options());
        assertThat(r.passed()).as(r.describe()).isTrue();
        assertThat(r.results()).containsExactly(tc.kernelRelease(), "boot=1");
        assertThat(r.boots()).isEqualTo(1);
        assertThat(r.verdicts()).containsExactly("PASS");
        assertThat(r.timedOut()).isFalse();
        assertThat(r.exitCode()).isZero();
        assertThat(r.panicked()).isFalse();
    }

    @Test
    void failingScriptGivesFail() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, """
                echo "JVFIO-RESULT: about to fail"
                exit 3
                """, QemuGuest.options());
        assertThat(r.passed()).as(r.describe()).isFalse();
        assertThat(r.verdicts()).as(r.describe()).containsExactly("FAIL 3");
        assertThat(r.results()).containsExactly("about to fail");
        assertThat(r.timedOut()).isFalse();
    }

    @Test
    void loadsModulesWithTheirDependencies() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, """
                set -e
                for m in gpio_pci_idio_16 gpio_idio_16 virtio_blk ext4 jbd2 mbcache; do
                    test -d /sys/module/$m
                    echo "JVFIO-RESULT: loaded $m"
                done
                lsmod
                grep -qw ext4 /proc/filesystems
                """, QemuGuest.options(), "gpio-pci-idio-16", "virtio_blk", "ext4");
        assertThat(r.passed()).as(r.describe()).isTrue();
        assertThat(r.results()).contains("loaded gpio_pci_idio_16", "loaded ext4", "loaded virtio_blk");
    }

    @Test
    void bootsWithSharedMemory() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, """
                kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
                echo "JVFIO-RESULT: memtotal_kb=$kb"
                [ "$kb" -gt 200000 ] && [ "$kb" -le 262144 ]
                """, QemuGuest.options().sharedMemory(true).memoryMiB(256));
        assertThat(r.passed()).as(r.describe()).isTrue();
    }

    @Test
    void rebootsOnceThenStopsAfterTheSecondBootsVerdict() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, """
                echo "JVFIO-RESULT: boot $JVFIO_BOOT"
                if [ "$JVFIO_BOOT" = 1 ]; then reboot -f; fi
                """, QemuGuest.options().allowReboot(true).bootsToRun(2));
        assertThat(r.passed()).as(r.describe()).isTrue();
        assertThat(r.results()).as(r.describe()).containsExactly("boot 1", "boot 2");
        assertThat(r.boots()).isEqualTo(2);
        assertThat(r.verdicts()).containsExactly("PASS");
    }

    @Test
    void withoutAllowRebootARebootEndsTheRun() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, "reboot -f\n", QemuGuest.options());
        assertThat(r.boots()).as(r.describe()).isEqualTo(1);
        assertThat(r.verdicts()).isEmpty();
        assertThat(r.passed()).isFalse();
        assertThat(r.timedOut()).isFalse();
    }

    @Test
    void watchesTheConsoleLiveAndKills() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        Initramfs initrd = Initramfs.builder(tc).script("echo JVFIO-RESULT: sleeping\nsleep 600\n")
                .build(tmp.resolve("initramfs.img"));
        Path workDir;
        try (QemuGuest g = QemuGuest.start(tc, QemuGuest.options().initramfs(initrd))) {
            workDir = g.workDir();
            assertThat(workDir).startsWith(tc.runRoot()).isDirectory();
            assertThat(g.awaitConsoleLine(l -> l.contains("JVFIO-RESULT: sleeping"), Duration.ofSeconds(90)))
                    .as(g.consoleSoFar()).isTrue();
            assertThat(g.consoleSoFar()).contains("JVFIO-BOOT 1");
            assertThat(g.isAlive()).isTrue();
            g.kill();
            GuestResult r = g.awaitExit();
            assertThat(r.exitCode()).isEqualTo(137);
            assertThat(r.timedOut()).isFalse();
            assertThat(r.passed()).isFalse();
            assertThat(r.results()).containsExactly("sleeping");
            assertThat(g.awaitConsoleLine(l -> l.contains("never printed"), Duration.ofSeconds(5))).isFalse();
        }
        assertThat(workDir).doesNotExist();
    }

    @Test
    void timeoutKillsTheGuest() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        GuestResult r = GuestTestSupport.boot(tc, tmp, "sleep 600\n",
                QemuGuest.options().timeout(Duration.ofSeconds(2)));
        assertThat(r.timedOut()).isTrue();
        assertThat(r.passed()).isFalse();
        assertThat(r.console()).contains("[jvfio] timeout");
    }

    @Test
    void vfioUserSocketPathsAreTranslatedIntoTheChroot() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        Initramfs initrd = Initramfs.builder(tc).build(tmp.resolve("initramfs.img"));
        // No server listens: QEMU must fail to connect, naming the socket as seen inside the chroot.
        try (QemuGuest g = QemuGuest.prepare(tc, QemuGuest.options().initramfs(initrd)
                .vfioUserDevice(Path.of("missing.sock")).timeout(Duration.ofSeconds(60)))) {
            String chrootPath = tc.toChrootPath(g.workDir().resolve("missing.sock"));
            assertThat(chrootPath).startsWith("/run/jvfio/").endsWith("/missing.sock");
            assertThat(g.qemuArgs()).contains(
                    "{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"" + chrootPath + "\",\"type\":\"unix\"}}");
            g.launch();
            GuestResult r = g.awaitExit();
            assertThat(r.exitCode()).as(r.describe()).isNotZero();
            assertThat(r.console()).contains(chrootPath);
            assertThat(r.boots()).isZero();
        }
    }
}
