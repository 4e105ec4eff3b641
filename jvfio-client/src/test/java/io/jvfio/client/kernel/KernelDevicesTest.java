package io.jvfio.client.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.DeviceException;
import io.jvfio.client.Devices;
import io.jvfio.linux.Errno;
import io.jvfio.linux.LinuxException;
import io.jvfio.testing.OpenFds;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opening a device by name against a fake sysfs and /dev: every refusal says what is wrong and how
 * to mend it, and leaves no fd open.
 */
class KernelDevicesTest {
    private static final String BDF = "0000:00:04.0";
    private static final PciAddress ADDRESS = PciAddress.parse(BDF);

    @TempDir
    Path root;
    private FakeSysfs fake;
    private OpenFds fds;

    @BeforeEach
    void setUp() throws Exception {
        fake = new FakeSysfs(root);
        fds = OpenFds.snapshot();
    }

    @AfterEach
    void noFdLeaked() throws Exception {
        fds.assertNoneLeaked(Duration.ofSeconds(5));
    }

    private static void assertRefused(ThrowingCallable open, int errno, String... message) {
        assertThatThrownBy(open).isInstanceOfSatisfying(KernelVfioException.class, e -> {
            assertThat(e.errno()).as(e.getMessage()).isEqualTo(errno);
            assertThat(e.getMessage()).contains(message);
        });
    }

    @Test
    void aDeviceThatIsNotThere() {
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENODEV, "no PCI device 0000:00:04.0");
    }

    @Test
    void aDeviceBoundToAnotherDriverNamesItAndHowToBind() throws Exception {
        fake.device(BDF, "nvme", 3);
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENODEV,
                "0000:00:04.0 is bound to the driver nvme, not vfio-pci",
                "echo vfio-pci > " + fake.deviceDir(BDF).resolve("driver_override"),
                "echo 0000:00:04.0 > " + fake.deviceDir(BDF).resolve("driver/unbind"),
                "drivers_probe");
    }

    @Test
    void aDeviceBoundToNoDriver() throws Exception {
        fake.device(BDF, null, 3);
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENODEV, "bound to no driver");
    }

    @Test
    void noIommuGroupMeansNoIommu() throws Exception {
        fake.device(BDF, "vfio-pci", null);
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENOENT, "has no IOMMU group", "intel_iommu=on");
    }

    @Test
    void aNoIommuGroupIsRefusedUnlessAskedFor() throws Exception {
        fake.device(BDF, "vfio-pci", 0).noIommuGroup(0).node("vfio/noiommu-0");
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.EPERM, "no-IOMMU group",
                "withAllowNoIommu(true)");
        // Asked for, it gets as far as the container, which this host does not have.
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options().withAllowNoIommu(true)), Errno.ENOENT,
                "no VFIO on this system");
    }

    @Test
    void noDevVfio() throws Exception {
        fake.device(BDF, "vfio-pci", 7);
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENOENT,
                fake.dev.resolve("vfio/vfio").toString(), "no VFIO on this system (modprobe vfio-pci");
    }

    @Test
    void aContainerThatRefusesItsFirstIoctlIsClosed() throws Exception {
        fake.device(BDF, "vfio-pci", 7).node("vfio/vfio").node("vfio/7");
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENOTTY,
                "ioctl VFIO_GET_API_VERSION", "container " + fake.dev.resolve("vfio/vfio"));
    }

    @Test
    void aCdevWithoutIommufdFallsBackToTheGroupUnlessIommufdIsAskedFor() throws Exception {
        fake.device(BDF, "vfio-pci", 7).cdev(BDF, "vfio0").node("vfio/devices/vfio0");
        // AUTO: no /dev/iommu, so the legacy path, which finds no container.
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENOENT, "no VFIO on this system");
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options().withBackend(KernelOptions.Backend.IOMMUFD)),
                Errno.ENOENT, fake.dev.resolve("iommu").toString(), "CONFIG_IOMMUFD");
    }

    @Test
    void iommufdIsTakenWhenThereAndABindThatFailsClosesBoth() throws Exception {
        fake.device(BDF, "vfio-pci", 7).cdev(BDF, "vfio0").node("vfio/devices/vfio0").node("iommu");
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENOTTY,
                "ioctl VFIO_DEVICE_BIND_IOMMUFD", BDF);
        assertRefused(() -> KernelDevices.openCdev(fake.dev.resolve("vfio/devices/vfio0"), fake.options()), Errno.ENOTTY,
                "VFIO_DEVICE_BIND_IOMMUFD", "vfio0");
    }

    @Test
    void iommufdForcedWithoutACdev() throws Exception {
        fake.device(BDF, "vfio-pci", 7);
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options().withBackend(KernelOptions.Backend.IOMMUFD)),
                Errno.ENOENT, "has no VFIO cdev", "CONFIG_VFIO_DEVICE_CDEV");
    }

    @Test
    void aVfioDevEntryWithoutADeviceNumberIsNoCdev() throws Exception {
        fake.device(BDF, "vfio-pci", 7).vfioDevWithoutCdev(BDF, "vfio0").node("iommu");
        // AUTO: /dev/iommu is there, but no cdev: the legacy path, which finds no container.
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options()), Errno.ENOENT, "no VFIO on this system");
        assertRefused(() -> KernelDevices.open(ADDRESS, fake.options().withBackend(KernelOptions.Backend.IOMMUFD)),
                Errno.ENOENT, "has no VFIO cdev", "CONFIG_VFIO_DEVICE_CDEV");
    }

    @Test
    void aGroupThatIsNotViableListsItsOtherDevices() throws Exception {
        fake.device(BDF, "vfio-pci", 7).device("0000:00:04.1", "snd_hda_intel", 7).device("0000:00:04.2", null, 7);
        assertThat(KernelDevices.notViable(new Sysfs(fake.options()), ADDRESS, 7)).isEqualTo(
                "IOMMU group 7 of 0000:00:04.0 is not viable: every device in it must be bound to vfio-pci (or to no driver). "
                        + "Its other devices: 0000:00:04.1 (snd_hda_intel), 0000:00:04.2 (no driver)");
    }

    @Test
    void devicesOpenRoutesByTheFormOfTheName() throws Exception {
        assertThat(Devices.isKernelDevice("00:04.0")).isTrue();
        assertThat(Devices.isKernelDevice("/dev/vfio/devices/vfio3")).isTrue();
        assertThat(Devices.isKernelDevice("/tmp/nvme.sock")).isFalse();
        assertRefused(() -> Devices.open("00:04.0", fake.options()), Errno.ENODEV, "no PCI device 0000:00:04.0");
        Path socket = root.resolve("absent.sock");
        assertThatThrownBy(() -> Devices.open(socket.toString(), fake.options()))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
        assertThatThrownBy(() -> Devices.open("/dev/vfio/devices/vfio3", fake.options()))
                .isInstanceOfSatisfying(DeviceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
    }

    @Test
    void bindingWritesOverrideUnbindAndProbeAndReleaseUndoesThem() throws Exception {
        fake.device(BDF, "nvme", 3);
        Files.writeString(fake.deviceDir(BDF).resolve("driver/unbind"), "");
        Files.writeString(fake.sys.resolve("bus/pci/drivers_probe"), "");
        VfioPciBinding binding = new VfioPciBinding(fake.options());
        assertThat(binding.driver(ADDRESS)).hasValue("nvme");
        assertRefused(() -> binding.bind(ADDRESS), Errno.ENOENT, "vfio-pci is not loaded");

        Files.createDirectories(fake.sys.resolve("bus/pci/drivers/vfio-pci"));
        // The fake kernel does not rebind, so the binding sees the device still with nvme.
        assertRefused(() -> binding.bind(ADDRESS), Errno.EIO, "vfio-pci did not take the device (now bound to nvme)");
        assertThat(Files.readString(fake.deviceDir(BDF).resolve("driver_override"))).isEqualTo("vfio-pci");
        assertThat(Files.readString(fake.deviceDir(BDF).resolve("driver/unbind"))).isEqualTo(BDF);
        assertThat(Files.readString(fake.sys.resolve("bus/pci/drivers_probe"))).isEqualTo(BDF);

        binding.release(ADDRESS);
        assertThat(Files.readString(fake.deviceDir(BDF).resolve("driver_override"))).isEqualTo("\n");
    }
}
