package io.jvfio.client.kernel;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How a device is opened through the kernel's VFIO.
 *
 * @param backend      which userspace interface: {@link Backend#AUTO} takes iommufd when the device has a
 *                     cdev and {@code /dev/iommu} exists, else the legacy group and container
 * @param allowNoIommu whether a device without an IOMMU (the kernel's unsafe no-IOMMU mode) may be
 *                     driven: the device then reaches all of memory by physical address. Off unless
 *                     asked for; a loud warning is logged when it is used
 * @param sysfsRoot    where sysfs is mounted ({@code /sys}); tests point it at a tree of their own
 * @param devRoot      where the device nodes are ({@code /dev})
 */
public record KernelOptions(Backend backend, boolean allowNoIommu, Path sysfsRoot, Path devRoot) {
    /** The userspace side of VFIO to use. */
    public enum Backend {
        /** iommufd when the device offers a cdev and /dev/iommu exists, else the legacy group/container. */
        AUTO,
        /** /dev/iommu and the device cdev /dev/vfio/devices/vfioN (Linux 6.6 and later). */
        IOMMUFD,
        /** The container /dev/vfio/vfio and the group /dev/vfio/N (type1v2, or no-IOMMU when allowed). */
        LEGACY
    }

    public KernelOptions {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(sysfsRoot, "sysfsRoot");
        Objects.requireNonNull(devRoot, "devRoot");
    }

    /** AUTO, no-IOMMU refused, /sys and /dev. */
    public static KernelOptions defaults() {
        return new KernelOptions(Backend.AUTO, false, Path.of("/sys"), Path.of("/dev"));
    }

    public KernelOptions withBackend(Backend backend) {
        return new KernelOptions(backend, allowNoIommu, sysfsRoot, devRoot);
    }

    /** Opts in to (or out of) the unsafe no-IOMMU mode. */
    public KernelOptions withAllowNoIommu(boolean allow) {
        return new KernelOptions(backend, allow, sysfsRoot, devRoot);
    }

    /** Other roots for sysfs and /dev (tests). */
    public KernelOptions withRoots(Path sysfsRoot, Path devRoot) {
        return new KernelOptions(backend, allowNoIommu, sysfsRoot, devRoot);
    }
}
