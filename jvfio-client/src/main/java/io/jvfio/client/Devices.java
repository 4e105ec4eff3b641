package io.jvfio.client;

import io.jvfio.client.kernel.KernelDevices;
import io.jvfio.client.kernel.KernelOptions;
import io.jvfio.client.kernel.PciAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One way to open a device by name, whichever backend carries it:
 * <ul>
 *   <li>a PCI address, {@code 0000:00:04.0} or {@code 00:04.0}: the device bound to vfio-pci, through the
 *       kernel's VFIO (iommufd when the device has a cdev and {@code /dev/iommu} exists, else the
 *       legacy group and container);</li>
 *   <li>{@code /dev/vfio/devices/vfioN}: that device cdev, through iommufd;</li>
 *   <li>anything else: the UNIX socket of a vfio-user server.</li>
 * </ul>
 * <pre>{@code
 * try (DeviceHandle device = Devices.open("0000:00:04.0");
 *      NvmeDriver nvme = NvmeDriver.open(device, NvmeDriver.Options.defaults())) { ... }
 * }</pre>
 */
public final class Devices {
    private Devices() {}

    /** Opens {@code name} with the default options of each backend. */
    public static DeviceHandle open(String name) throws IOException {
        return open(name, KernelOptions.defaults());
    }

    /** Opens {@code name}; a kernel device with {@code kernel}'s options. */
    public static DeviceHandle open(String name, KernelOptions kernel) throws IOException {
        Optional<PciAddress> address = PciAddress.tryParse(name);
        if (address.isPresent()) {
            return KernelDevices.open(address.get(), kernel);
        }
        if (KernelDevices.isCdevPath(name)) {
            return KernelDevices.openCdev(Path.of(name), kernel);
        }
        return VfioUserClient.connect(Path.of(name));
    }

    /** Whether {@code name} names a kernel device (a PCI address or a VFIO cdev) rather than a socket. */
    public static boolean isKernelDevice(String name) {
        return PciAddress.tryParse(name).isPresent() || KernelDevices.isCdevPath(name);
    }
}
