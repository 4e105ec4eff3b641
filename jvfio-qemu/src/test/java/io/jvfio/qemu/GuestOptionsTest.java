package io.jvfio.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The QEMU command line the options make, for a toolchain laid out in a temporary directory. No guest boots. */
class GuestOptionsTest {

    @TempDir Path tmp;

    @Test
    void intelIommuNvmeControllersAndTheSharedRootfs() throws Exception {
        GuestToolchain tc = GuestTestSupport.fakeToolchain(tmp);
        Path run = tc.runRoot().resolve("42-1-abcd");
        List<String> args = QemuGuest.options().initramfs(tmp.resolve("initramfs.img")).intelIommu(true)
                .vfioUserDevice(Path.of("dev.sock"))
                .nvme(Path.of("a.img"), "SERIAL0").nvme(tc.rootfs().resolve("images/b,c.img"), "SERIAL1")
                .java(List.of(tmp.resolve("classes")))
                .qemuArgs(tc, run);

        assertThat(args).containsSubsequence("-device", "intel-iommu,caching-mode=on");
        assertThat(args.get(args.indexOf("-append") + 1))
                .contains(" jvfio.run=/run/jvfio/42-1-abcd ").contains(" intel_iommu=on").doesNotContain("iommu=pt");
        assertThat(args).containsSubsequence(
                "-drive", "file=/run/jvfio/42-1-abcd/a.img,if=none,format=raw,id=jvfio-nvme0",
                "-device", "nvme,serial=SERIAL0,drive=jvfio-nvme0,addr=4.0",
                "-drive", "file=/images/b,,c.img,if=none,format=raw,id=jvfio-nvme1",
                "-device", "nvme,serial=SERIAL1,drive=jvfio-nvme1,addr=5.0");
        assertThat(args).containsSubsequence("-fsdev", "local,id=jvfio-rootfs,path=/,security_model=none,readonly=on",
                "-device", "virtio-9p-pci,fsdev=jvfio-rootfs,mount_tag=" + GuestJava.MOUNT_TAG);
        // The controllers' fixed slots are claimed before QEMU places the vfio-user device in the first free one.
        assertThat(args.indexOf("nvme,serial=SERIAL1,drive=jvfio-nvme1,addr=5.0"))
                .isLessThan(args.indexOf("{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"/run/jvfio/42-1-abcd/dev.sock\",\"type\":\"unix\"}}"));
        assertThat(GuestOptions.nvmeAddress(0)).isEqualTo("0000:00:04.0");
        assertThat(GuestOptions.nvmeAddress(1)).isEqualTo("0000:00:05.0");
    }

    @Test
    void aHotpluggableVfioUserDeviceSitsBehindARootPortOfItsOwn() throws Exception {
        GuestToolchain tc = GuestTestSupport.fakeToolchain(tmp);
        List<String> args = QemuGuest.options().initramfs(tmp.resolve("initramfs.img"))
                .vfioUserDevice(Path.of("fixed.sock"))
                .hotpluggableVfioUserDevice(Path.of("a.sock")).hotpluggableVfioUserDevice(Path.of("b.sock"))
                .qemuArgs(tc, tc.runRoot().resolve("1-1-0"));
        assertThat(args).containsSubsequence(
                "-device", "{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"/run/jvfio/1-1-0/fixed.sock\",\"type\":\"unix\"}}",
                "-device", "pcie-root-port,id=jvfio-port0,chassis=1,slot=1,addr=10.0",
                "-device", "{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"/run/jvfio/1-1-0/a.sock\",\"type\":\"unix\"},"
                        + "\"bus\":\"jvfio-port0\",\"id\":\"jvfio-hotplug0\"}",
                "-device", "pcie-root-port,id=jvfio-port1,chassis=2,slot=2,addr=11.0",
                "-device", "{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"/run/jvfio/1-1-0/b.sock\",\"type\":\"unix\"},"
                        + "\"bus\":\"jvfio-port1\",\"id\":\"jvfio-hotplug1\"}");
        assertThat(GuestOptions.hotplugPortAddress(1)).isEqualTo("0000:00:11.0");
        assertThatThrownBy(() -> GuestOptions.hotplugPortAddress(15)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void withoutThemTheCommandLineHasNoIommuNvmeOrShare() throws Exception {
        GuestToolchain tc = GuestTestSupport.fakeToolchain(tmp);
        List<String> args = QemuGuest.options().initramfs(tmp.resolve("initramfs.img")).qemuArgs(tc, tc.runRoot().resolve("1-1-0"));
        assertThat(String.join(" ", args)).doesNotContain("iommu").doesNotContain("nvme").doesNotContain("9p")
                .contains("jvfio.run=/run/jvfio/1-1-0");
        assertThat(QemuGuest.options().shareRootfs(true).initramfs(tmp.resolve("i")).qemuArgs(tc, tc.runRoot().resolve("1-1-0")))
                .contains("virtio-9p-pci,fsdev=jvfio-rootfs,mount_tag=" + GuestJava.MOUNT_TAG);
    }

    @Test
    void rejectsWhatQemuWouldMisread() throws Exception {
        GuestToolchain tc = GuestTestSupport.fakeToolchain(tmp);
        assertThatThrownBy(() -> QemuGuest.options().nvme(Path.of("a.img"), "has,comma")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QemuGuest.options().nvme(Path.of("a.img"), "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QemuGuest.options().nvme(Path.of("a.img"), "x".repeat(21))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GuestOptions.nvmeAddress(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QemuGuest.options().initramfs(tmp.resolve("i")).nvme(tmp.resolve("outside.img"), "S")
                .qemuArgs(tc, tc.runRoot().resolve("1-1-0")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not inside the QEMU chroot");
    }
}
