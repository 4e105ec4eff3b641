package io.jvfio.client.kernel;

import io.jvfio.linux.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * What sysfs and /dev say about a PCI device and VFIO: its driver, its IOMMU group and the group's
 * other devices, its VFIO cdev, and the nodes to open. The roots come from {@link KernelOptions}, so
 * tests build a tree of their own.
 */
final class Sysfs {
    static final String VFIO_PCI = "vfio-pci";
    private static final String NOIOMMU_GROUP_NAME = "vfio-noiommu";

    private final Path sys;
    private final Path dev;

    Sysfs(KernelOptions options) {
        this.sys = options.sysfsRoot();
        this.dev = options.devRoot();
    }

    /** /sys/bus/pci/devices/BDF. */
    Path deviceDir(PciAddress address) {
        return sys.resolve("bus/pci/devices").resolve(address.toString());
    }

    Path driversDir() {
        return sys.resolve("bus/pci/drivers");
    }

    Path driversProbe() {
        return sys.resolve("bus/pci/drivers_probe");
    }

    /** ENODEV unless sysfs has the device. */
    void requireDevice(PciAddress address) throws KernelVfioException {
        if (!Files.isDirectory(deviceDir(address))) {
            throw new KernelVfioException(Errno.ENODEV, "no PCI device " + address + " (nothing at " + deviceDir(address) + ")");
        }
    }

    /** The driver the device is bound to, if any. */
    Optional<String> driver(PciAddress address) throws IOException {
        return linkName(deviceDir(address).resolve("driver"));
    }

    /** Whether {@code driver} is vfio-pci or a variant of it (mlx5_vfio_pci, ...). */
    static boolean isVfioDriver(String driver) {
        return driver.equals(VFIO_PCI) || driver.endsWith("vfio_pci") || driver.endsWith("vfio-pci");
    }

    /** ENODEV, saying how to bind, unless the device is bound to vfio-pci (or a variant). */
    void requireVfioDriver(PciAddress address) throws IOException {
        requireDevice(address);
        Optional<String> driver = driver(address);
        if (driver.isPresent() && isVfioDriver(driver.get())) {
            return;
        }
        Path dir = deviceDir(address);
        String unbind = driver.isPresent() ? "echo %s > %s; ".formatted(address, dir.resolve("driver/unbind")) : "";
        throw new KernelVfioException(Errno.ENODEV, ("%s is bound to %s, not vfio-pci. Bind it (as root): modprobe vfio-pci; "
                + "echo vfio-pci > %s; %secho %s > %s  (or VfioPciBinding.bind)").formatted(address,
                driver.map(d -> "the driver " + d).orElse("no driver"), dir.resolve("driver_override"), unbind, address,
                driversProbe()));
    }

    /** The IOMMU group number, if the device has a group (a real one, or a no-IOMMU one). */
    OptionalInt iommuGroup(PciAddress address) throws IOException {
        Optional<String> group = linkName(deviceDir(address).resolve("iommu_group"));
        if (group.isEmpty()) {
            return OptionalInt.empty();
        }
        try {
            return OptionalInt.of(Integer.parseInt(group.get()));
        } catch (NumberFormatException e) {
            throw new KernelVfioException(Errno.EINVAL, "iommu_group of " + address + " is no number: " + group.get());
        }
    }

    private Path groupDir(int group) {
        return sys.resolve("kernel/iommu_groups").resolve(Integer.toString(group));
    }

    /** Whether the group is the fake one no-IOMMU mode makes ({@code name} reads "vfio-noiommu"). */
    boolean isNoIommuGroup(int group) throws IOException {
        Path name = groupDir(group).resolve("name");
        return Files.isRegularFile(name) && Files.readString(name).strip().equals(NOIOMMU_GROUP_NAME);
    }

    /** The group's devices, each "BDF (driver)", for the message about a group that is not viable. */
    List<String> groupMembers(int group) throws IOException {
        List<String> members = new ArrayList<>();
        Path devices = groupDir(group).resolve("devices");
        if (!Files.isDirectory(devices)) {
            return members;
        }
        try (Stream<Path> entries = Files.list(devices)) {
            for (Path device : entries.sorted().toList()) {
                members.add(device.getFileName() + " (" + linkName(device.resolve("driver")).orElse("no driver") + ")");
            }
        }
        return members;
    }

    /**
     * The name of the device's VFIO cdev ("vfio3"), if the kernel made one (CONFIG_VFIO_DEVICE_CDEV). Every vfio
     * device has its vfio-dev/vfioN in sysfs; only a cdev has a device number there ({@code dev}, "major:minor"):
     * Debian's 6.12 lists vfio-dev/vfio0 and makes no /dev/vfio/devices/vfio0.
     */
    Optional<String> vfioCdev(PciAddress address) throws IOException {
        Path dir = deviceDir(address).resolve("vfio-dev");
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.filter(p -> p.getFileName().toString().startsWith("vfio") && Files.isRegularFile(p.resolve("dev")))
                    .map(p -> p.getFileName().toString()).sorted().findFirst();
        }
    }

    Path container() {
        return dev.resolve("vfio/vfio");
    }

    /** /dev/vfio/N, or /dev/vfio/noiommu-N for a no-IOMMU group. */
    Path groupNode(int group, boolean noIommu) {
        return dev.resolve("vfio").resolve((noIommu ? "noiommu-" : "") + group);
    }

    Path cdevNode(String name) {
        return dev.resolve("vfio/devices").resolve(name);
    }

    Path iommufd() {
        return dev.resolve("iommu");
    }

    /** The last element of the symlink's target, or empty when there is no such link. */
    private static Optional<String> linkName(Path link) throws IOException {
        try {
            return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }
}
