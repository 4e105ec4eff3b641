package io.jvfio.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jvfio.testing.GuestTests;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java-written newc cpio and the initramfs layout, checked with the host's cpio(1). No guest boots. */
class InitramfsTest {

    @TempDir Path tmp;

    @Test
    void newcArchiveExtractsWithHostCpio() throws Exception {
        requireHostCpio();
        byte[] odd = "odd-sized\n".getBytes(StandardCharsets.UTF_8); // 10 bytes: exercises padding
        byte[] big = new byte[70_001];
        for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31);
        Path archive = tmp.resolve("a.cpio");
        try (NewcCpioWriter w = new NewcCpioWriter(Files.newOutputStream(archive))) {
            w.directory("a", 0755);
            w.directory("/a/b/", 0700);
            w.file("a/odd.txt", odd, 0640);
            w.file("a/empty", new byte[0], 0600);
            w.file("a/b/big.bin", big, 0755);
            w.file("a/b/with a long name " + "x".repeat(100), new byte[] {1, 2, 3}, 0644);
            w.symlink("a/link", "odd.txt");
            w.charDevice("dev-console", 0600, 5, 1);
            assertThatThrownBy(() -> w.file("a/odd.txt", new byte[0], 0644)).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(Files.size(archive) % 4).isZero();

        String listing = run(tmp, archive, "cpio", "-itv");
        assertThat(listing).containsPattern("(?m)^crw------- .*dev-console$");
        assertThat(listing).containsPattern("(?m)^lrwxrwxrwx .*a/link -> odd.txt$");

        Path out = Files.createDirectory(tmp.resolve("out"));
        run(out, archive, "cpio", "-idm", "--no-absolute-filenames", "--nonmatching", "dev-console");
        assertThat(out.resolve("a/odd.txt")).hasBinaryContent(odd);
        assertThat(out.resolve("a/empty")).isEmptyFile();
        assertThat(out.resolve("a/b/big.bin")).hasBinaryContent(big);
        assertThat(out.resolve("a/b/with a long name " + "x".repeat(100))).hasBinaryContent(new byte[] {1, 2, 3});
        assertThat(Files.readSymbolicLink(out.resolve("a/link"))).isEqualTo(Path.of("odd.txt"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("a/odd.txt"))))
                .isEqualTo("rw-r-----");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("a/b/big.bin"))))
                .isEqualTo("rwxr-xr-x");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("a/b"))))
                .isEqualTo("rwx------");
    }

    @Test
    void initramfsHasInitBusyboxScriptAndModulesInDependencyOrder() throws Exception {
        requireHostCpio();
        GuestToolchain tc = GuestTestSupport.toolchain();
        String release = tc.kernelRelease();
        Initramfs.Builder b = Initramfs.builder(tc)
                .modules("gpio_pci_idio_16", "ext4")
                .moduleParameters("gpio-pci-idio-16", "a=1 b=2")
                .script("echo hello\n")
                .file("/etc/jvfio/extra.conf", "x=1\n", 0600)
                .symlink("/etc/jvfio/alias", "extra.conf");
        Initramfs gz = b.build(tmp.resolve("initramfs.gz"));
        Initramfs plain = b.gzip(false).build(tmp.resolve("initramfs.cpio"));

        List<String> mods = gz.modules();
        assertThat(mods).contains("gpio_idio_16", "gpio_pci_idio_16", "jbd2", "mbcache", "crc16", "ext4");
        assertThat(mods.indexOf("gpio_idio_16")).isLessThan(mods.indexOf("gpio_pci_idio_16"));
        assertThat(mods.indexOf("jbd2")).isLessThan(mods.indexOf("ext4"));
        assertThat(mods.indexOf("mbcache")).isLessThan(mods.indexOf("ext4"));
        assertThat(plain.modules()).isEqualTo(mods);

        byte[] plainBytes = Files.readAllBytes(plain.path());
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz.path()))) {
            assertThat(in.readAllBytes()).isEqualTo(plainBytes); // deterministic: mtime 0, fixed order
        }

        Path out = Files.createDirectory(tmp.resolve("root"));
        run(out, plain.path(), "cpio", "-idm", "--no-absolute-filenames", "--nonmatching", "dev/*");
        assertThat(out.resolve("init")).hasContent(Initramfs.initScript(release));
        assertThat(Files.isExecutable(out.resolve("init"))).isTrue();
        assertThat(out.resolve("bin/busybox")).hasSameBinaryContentAs(tc.busybox());
        assertThat(out.resolve("jvfio/test.sh")).hasContent("echo hello\n");
        assertThat(out.resolve("etc/jvfio/extra.conf")).hasContent("x=1\n");
        assertThat(Files.readSymbolicLink(out.resolve("etc/jvfio/alias"))).isEqualTo(Path.of("extra.conf"));
        for (String d : List.of("proc", "sys", "dev", "tmp", "sbin", "usr/bin")) {
            assertThat(out.resolve(d)).isDirectory();
        }

        Path modDir = out.resolve("lib/modules/" + release);
        List<String> load = Files.readAllLines(out.resolve("jvfio/modules.load"));
        assertThat(load).hasSize(mods.size());
        assertThat(load).contains("kernel/drivers/gpio/gpio-pci-idio-16.ko a=1 b=2");
        for (String line : load) {
            String rel = line.split(" ")[0];
            Path ko = modDir.resolve(rel);
            assertThat(rel).endsWith(".ko");
            byte[] head = new byte[4];
            try (InputStream in = Files.newInputStream(ko)) {
                assertThat(in.read(head)).isEqualTo(4);
            }
            assertThat(head).isEqualTo(new byte[] {0x7f, 'E', 'L', 'F'});
        }
        assertThat(load).anyMatch(l -> l.endsWith("/gpio-idio-16.ko"));
        String dep = Files.readString(modDir.resolve("modules.dep"));
        assertThat(dep).containsPattern("(?m)^kernel/fs/ext4/ext4\\.ko:.*kernel/fs/jbd2/jbd2\\.ko");
        assertThat(dep).containsPattern("(?m)^kernel/drivers/gpio/gpio-pci-idio-16\\.ko: kernel/drivers/gpio/gpio-idio-16\\.ko kernel/drivers/gpio/gpio-regmap\\.ko$");

        String listing = run(tmp, plain.path(), "cpio", "-itv");
        assertThat(listing).containsPattern("(?m)^crw------- .*dev/console$");
    }

    @Test
    void javaAddsThe9pModulesAndTheLauncherAndOptionalModulesAreSkippedWhereAbsent() throws Exception {
        requireHostCpio();
        GuestToolchain tc = GuestTestSupport.toolchain();
        KernelModules km = KernelModules.index(tc.modulesDir());
        Initramfs initramfs = Initramfs.builder(tc).java().modules("vfio_pci")
                .optionalModules("no_such_module_xyz", "vfio_iommu_type1", "virtio_pci")
                .gzip(false).build(tmp.resolve("initramfs.cpio"));
        assertThat(initramfs.modules()).contains("9p", "9pnet", "9pnet_virtio", "netfs", "vfio", "vfio_pci_core", "vfio_pci",
                "vfio_iommu_type1").doesNotContain("no_such_module_xyz", "virtio_pci");
        assertThat(initramfs.modules().indexOf("9pnet")).isLessThan(initramfs.modules().indexOf("9pnet_virtio"));
        // iommufd where the kernel builds it (Debian's 6.12 does not)
        assertThat(Initramfs.builder(tc).optionalModules("iommufd").build(tmp.resolve("i.img")).modules())
                .isEqualTo(km.exists("iommufd") ? List.of("iommufd") : List.of());

        Path out = Files.createDirectory(tmp.resolve("root"));
        run(out, initramfs.path(), "cpio", "-idm", "--no-absolute-filenames", "--nonmatching", "dev/*");
        assertThat(out.resolve(GuestJava.LAUNCHER.substring(1))).hasContent(GuestJava.launcherScript());
        assertThat(Files.isExecutable(out.resolve(GuestJava.LAUNCHER.substring(1)))).isTrue();
    }

    @Test
    void moduleNamesAndDependencies() throws Exception {
        GuestToolchain tc = GuestTestSupport.toolchain();
        KernelModules km = KernelModules.index(tc.modulesDir());
        assertThat(km.exists("gpio-pci-idio-16")).isTrue();
        assertThat(km.exists("gpio_pci_idio_16")).isTrue();
        List<KernelModules.Module> r = km.resolve(List.of("gpio-pci-idio-16"));
        assertThat(r).extracting(KernelModules.Module::name).containsExactly("gpio_regmap", "gpio_idio_16", "gpio_pci_idio_16");
        assertThat(KernelModules.modinfo(r.get(2).image())).containsKey("license");
        assertThat(r.get(2).depends()).containsExactly("gpio_idio_16");
        // virtio_pci is built into the Debian kernel: nothing to load.
        assertThat(km.isBuiltin("virtio_pci")).isTrue();
        assertThat(km.resolve(List.of("virtio-pci"))).isEmpty();
        assertThatThrownBy(() -> km.resolve(List.of("no_such_module_xyz")))
                .isInstanceOf(IOException.class).hasMessageContaining("no_such_module_xyz");
        assertThatThrownBy(() -> Initramfs.builder(tc).file("relative/path", new byte[0], 0644))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingToolchainNamesTheProvisioningScript() {
        assertThatThrownBy(() -> GuestToolchain.locate(tmp.resolve("nope")))
                .isInstanceOf(IOException.class).hasMessageContaining("scripts/provision-guest.sh");
        assertThatThrownBy(() -> GuestToolchain.locate(tmp))
                .isInstanceOf(IOException.class).hasMessageContaining("scripts/provision-guest.sh")
                .hasMessageContaining("vmlinuz");
    }

    @Test
    void anotherKernelLaidOutLikeTheGuestsReplacesIt() throws Exception {
        GuestToolchain tc = GuestTestSupport.fakeToolchain(tmp.resolve("cache"));
        Path dir = tmp.resolve("cache/kernel-6.12.117-1");
        Files.createDirectories(dir.resolve("tree/usr/lib/modules/6.12.117-jvfio/kernel"));
        assertThatThrownBy(() -> tc.withKernel(Path.of("kernel-6.12.117-1")))
                .isInstanceOf(IOException.class).hasMessageContaining("scripts/build-guest-kernel.sh").hasMessageContaining("vmlinuz");
        Files.writeString(dir.resolve("vmlinuz"), "bzImage");
        Files.writeString(dir.resolve("kernel-release"), "6.12.117-jvfio\n");

        GuestToolchain custom = tc.withKernel(Path.of("kernel-6.12.117-1"));
        assertThat(custom.kernel()).isEqualTo(dir.resolve("vmlinuz"));
        assertThat(custom.kernelRelease()).isEqualTo("6.12.117-jvfio");
        assertThat(custom.modulesDir()).isEqualTo(dir.resolve("tree/usr/lib/modules/6.12.117-jvfio"));
        assertThat(custom.rootfs()).isEqualTo(tc.rootfs());
        assertThat(custom.busybox()).isEqualTo(tc.busybox());
        assertThat(custom).isNotEqualTo(tc);
    }

    private static void requireHostCpio() {
        boolean found = List.of("/usr/bin/cpio", "/bin/cpio", "/usr/local/bin/cpio").stream()
                .anyMatch(p -> Files.isExecutable(Path.of(p)));
        if (!found) {
            if (GuestTests.underCi()) fail("CI is set but cpio(1) is not installed");
            assumeTrue(false, "cpio(1) not installed");
        }
    }

    /** Runs a command in dir with the archive on stdin; returns stdout+stderr; fails on non-zero exit. */
    private static String run(Path dir, Path stdin, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectInput(stdin.toFile())
                .redirectErrorStream(true).start();
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(bos);
        }
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = bos.toString(StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(String.join(" ", cmd) + ": " + out).isZero();
        return out;
    }
}
