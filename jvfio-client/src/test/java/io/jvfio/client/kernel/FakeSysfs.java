package io.jvfio.client.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A sysfs and a /dev of a test's own, shaped as Linux's: devices with driver and iommu_group links,
 * groups listing their devices, vfio-dev cdev directories; device nodes as plain files (on which
 * every ioctl fails with ENOTTY, which drives the error paths past the opens).
 */
final class FakeSysfs {
    final Path sys;
    final Path dev;

    FakeSysfs(Path root) throws IOException {
        sys = Files.createDirectories(root.resolve("sys"));
        dev = Files.createDirectories(root.resolve("dev"));
    }

    KernelOptions options() {
        return KernelOptions.defaults().withRoots(sys, dev);
    }

    Path deviceDir(String bdf) {
        return sys.resolve("bus/pci/devices").resolve(bdf);
    }

    /** A device bound to {@code driver} (null: none), in IOMMU group {@code group} (null: none). */
    FakeSysfs device(String bdf, String driver, Integer group) throws IOException {
        Path dir = Files.createDirectories(deviceDir(bdf));
        if (driver != null) {
            Path driverDir = Files.createDirectories(sys.resolve("bus/pci/drivers").resolve(driver));
            Files.createSymbolicLink(dir.resolve("driver"), driverDir);
        }
        if (group != null) {
            Path groupDir = Files.createDirectories(sys.resolve("kernel/iommu_groups").resolve(group.toString()).resolve("devices"))
                    .getParent();
            Files.createSymbolicLink(dir.resolve("iommu_group"), groupDir);
            Files.createSymbolicLink(groupDir.resolve("devices").resolve(bdf), dir);
        }
        Files.writeString(dir.resolve("driver_override"), "(null)\n");
        return this;
    }

    FakeSysfs noIommuGroup(int group) throws IOException {
        Files.writeString(sys.resolve("kernel/iommu_groups").resolve(Integer.toString(group)).resolve("name"), "vfio-noiommu\n");
        return this;
    }

    /** A VFIO cdev: vfio-dev/NAME with its device number. */
    FakeSysfs cdev(String bdf, String name) throws IOException {
        Files.writeString(vfioDev(bdf, name).resolve("dev"), "511:0\n");
        return this;
    }

    /** vfio-dev/NAME without a device number: what a kernel without CONFIG_VFIO_DEVICE_CDEV shows. */
    FakeSysfs vfioDevWithoutCdev(String bdf, String name) throws IOException {
        vfioDev(bdf, name);
        return this;
    }

    private Path vfioDev(String bdf, String name) throws IOException {
        return Files.createDirectories(deviceDir(bdf).resolve("vfio-dev").resolve(name));
    }

    /** A device node under /dev (a plain file). */
    FakeSysfs node(String relative) throws IOException {
        Path node = dev.resolve(relative);
        Files.createDirectories(node.getParent());
        Files.write(node, new byte[0]);
        return this;
    }
}
