package io.jvfio.client.kernel;

import io.jvfio.linux.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Hands a PCI device to vfio-pci and gives it back, as the kernel's documentation says: set
 * {@code driver_override}, unbind from the current driver, ask {@code drivers_probe} to bind; to give
 * it back, clear the override, unbind from vfio-pci and probe again, so the device's own driver takes
 * it. Needs root, and the vfio-pci module loaded.
 */
public final class VfioPciBinding {
    private final Sysfs sysfs;

    public VfioPciBinding(KernelOptions options) {
        this.sysfs = new Sysfs(options);
    }

    /** The driver {@code address} is bound to now, if any. */
    public Optional<String> driver(PciAddress address) throws IOException {
        sysfs.requireDevice(address);
        return sysfs.driver(address);
    }

    /** Binds {@code address} to vfio-pci; returns the driver it had (to give it back to), if any. */
    public Optional<String> bind(PciAddress address) throws IOException {
        Optional<String> before = driver(address);
        if (before.isPresent() && Sysfs.isVfioDriver(before.get())) {
            return before;
        }
        if (!Files.isDirectory(sysfs.driversDir().resolve(Sysfs.VFIO_PCI))) {
            throw new KernelVfioException(Errno.ENOENT, "vfio-pci is not loaded (modprobe vfio-pci)");
        }
        Path dir = sysfs.deviceDir(address);
        write(dir.resolve("driver_override"), Sysfs.VFIO_PCI);
        if (before.isPresent()) {
            write(dir.resolve("driver/unbind"), address.toString());
        }
        write(sysfs.driversProbe(), address.toString());
        Optional<String> after = sysfs.driver(address);
        if (after.isEmpty() || !Sysfs.isVfioDriver(after.get())) {
            throw new KernelVfioException(Errno.EIO, address + ": vfio-pci did not take the device (now bound to "
                    + after.orElse("no driver") + "); see dmesg");
        }
        return before;
    }

    /** Gives {@code address} back: clears driver_override, unbinds it from vfio-pci and lets the kernel probe its driver. */
    public void release(PciAddress address) throws IOException {
        Optional<String> now = driver(address);
        Path dir = sysfs.deviceDir(address);
        write(dir.resolve("driver_override"), "\n");
        if (now.isPresent()) {
            write(dir.resolve("driver/unbind"), address.toString());
        }
        write(sysfs.driversProbe(), address.toString());
    }

    private static void write(Path file, String value) throws KernelVfioException {
        try {
            Files.writeString(file, value);
        } catch (IOException e) {
            throw new KernelVfioException(Errno.EIO, "writing '" + value.strip() + "' to " + file + ": " + e, e);
        }
    }
}
