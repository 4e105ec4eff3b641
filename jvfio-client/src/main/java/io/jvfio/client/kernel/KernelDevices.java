package io.jvfio.client.kernel;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Opens a PCI device bound to vfio-pci as a {@link KernelVfioDevice}, through iommufd (the device's
 * cdev and {@code /dev/iommu}) or the legacy container and group, as {@link KernelOptions} says.
 * Every failure names what is wrong and how to mend it (the device bound to another driver, a group
 * that is not viable and its other devices, no VFIO in the kernel, no-IOMMU not allowed), and
 * closes whatever it had opened.
 */
public final class KernelDevices {
    private static final System.Logger LOG = System.getLogger(KernelDevices.class.getName());
    private static final String CDEV_PREFIX = "/dev/vfio/devices/";

    private KernelDevices() {}

    /** Opens {@code address} with the default options (AUTO backend, no-IOMMU refused, /sys and /dev). */
    public static KernelVfioDevice open(PciAddress address) throws IOException {
        return open(address, KernelOptions.defaults());
    }

    public static KernelVfioDevice open(PciAddress address, KernelOptions options) throws IOException {
        Sysfs sysfs = new Sysfs(options);
        sysfs.requireVfioDriver(address);
        if (options.backend() != KernelOptions.Backend.LEGACY) {
            Optional<String> cdev = sysfs.vfioCdev(address);
            if (cdev.isPresent() && (options.backend() == KernelOptions.Backend.IOMMUFD || Files.exists(sysfs.iommufd()))) {
                try {
                    return openCdev(sysfs, sysfs.cdevNode(cdev.get()), address.toString());
                } catch (KernelVfioException e) {
                    OptionalInt group = sysfs.iommuGroup(address);
                    if (e.errno() == Errno.EBUSY && group.isPresent()) { // the bind found the group in other hands
                        throw new KernelVfioException(Errno.EBUSY, e.getMessage() + "; " + notViable(sysfs, address,
                                group.getAsInt()), e);
                    }
                    throw e;
                }
            }
            if (options.backend() == KernelOptions.Backend.IOMMUFD) {
                throw new KernelVfioException(Errno.ENOENT, address + " has no VFIO cdev (no device number in "
                        + sysfs.deviceDir(address).resolve("vfio-dev") + "): the kernel needs CONFIG_VFIO_DEVICE_CDEV, and "
                        + "no-IOMMU devices have none; use the legacy backend");
            }
        }
        return openLegacy(sysfs, address, options);
    }

    /** Opens a device cdev ({@code /dev/vfio/devices/vfioN}) through iommufd. */
    public static KernelVfioDevice openCdev(Path node, KernelOptions options) throws IOException {
        return openCdev(new Sysfs(options), node, node.getFileName().toString());
    }

    /** Whether {@code name} names a device cdev, as {@code /dev/vfio/devices/vfioN}. */
    public static boolean isCdevPath(String name) {
        return name.startsWith(CDEV_PREFIX);
    }

    private static KernelVfioDevice openCdev(Sysfs sysfs, Path node, String name) throws IOException {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Fd device = Nodes.open(node, "no such VFIO device cdev");
            opened.add(device);
            Iommufd iommufd = Iommufd.open(sysfs.iommufd());
            opened.add(iommufd);
            iommufd.bind(device, name);
            int ioas = iommufd.allocateIoas();
            Iommufd.attach(device, ioas, name);
            DmaSpace space = DmaSpace.ioas(iommufd, ioas);
            return new KernelVfioDevice(name, device, space, List.of());
        } catch (IOException | RuntimeException e) {
            Nodes.closeAll(opened, e);
            throw e;
        }
    }

    private static KernelVfioDevice openLegacy(Sysfs sysfs, PciAddress address, KernelOptions options) throws IOException {
        OptionalInt groupNumber = sysfs.iommuGroup(address);
        if (groupNumber.isEmpty()) {
            throw new KernelVfioException(Errno.ENOENT, address + " has no IOMMU group: the system has no IOMMU enabled "
                    + "(boot with intel_iommu=on / amd_iommu=on), or, unsafely, load vfio with enable_unsafe_noiommu_mode=1 "
                    + "and allow no-IOMMU");
        }
        int group = groupNumber.getAsInt();
        boolean noIommu = sysfs.isNoIommuGroup(group);
        if (noIommu && !options.allowNoIommu()) {
            throw new KernelVfioException(Errno.EPERM, address + " is in a no-IOMMU group: the device could DMA anywhere in "
                    + "memory. Refused unless asked for (KernelOptions.withAllowNoIommu(true), jvfio --allow-no-iommu)");
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            VfioContainer container = VfioContainer.open(sysfs.container());
            opened.add(container);
            int model = noIommu ? KernelUapi.VFIO_NOIOMMU_IOMMU : KernelUapi.VFIO_TYPE1v2_IOMMU;
            if (!container.checkExtension(model)) {
                throw new KernelVfioException(Errno.ENOTSUP, container + " does not offer "
                        + (noIommu ? "no-IOMMU (CONFIG_VFIO_NOIOMMU)" : "the type1v2 IOMMU (modprobe vfio_iommu_type1)"));
            }
            VfioGroup vfioGroup = VfioGroup.open(sysfs.groupNode(group, noIommu), group);
            opened.add(vfioGroup);
            if (!vfioGroup.viable()) {
                throw new KernelVfioException(Errno.EBUSY, notViable(sysfs, address, group));
            }
            vfioGroup.setContainer(container);
            container.setIommu(model);
            DmaSpace space;
            if (noIommu) {
                LOG.log(Level.WARNING, "!!! {0} runs WITHOUT AN IOMMU: the device can read and write all of memory; "
                        + "DMA addresses are physical. The kernel is tainted. Use only on machines you can lose.", address);
                space = DmaSpace.noIommu(container);
            } else {
                space = DmaSpace.type1(container);
            }
            opened.set(0, space); // the space owns the container from now on
            Fd device = vfioGroup.deviceFd(address.toString());
            return new KernelVfioDevice(address.toString(), device, space, List.of(vfioGroup));
        } catch (IOException | RuntimeException e) {
            Nodes.closeAll(opened, e);
            throw e;
        }
    }

    /** The message for a group that is not viable: its devices and their drivers. */
    static String notViable(Sysfs sysfs, PciAddress address, int group) throws IOException {
        List<String> others = new ArrayList<>(sysfs.groupMembers(group));
        others.removeIf(m -> m.startsWith(address + " "));
        return ("IOMMU group %d of %s is not viable: every device in it must be bound to vfio-pci (or to no driver). "
                + "Its other devices: %s").formatted(group, address, others.isEmpty() ? "none listed" : String.join(", ", others));
    }
}
