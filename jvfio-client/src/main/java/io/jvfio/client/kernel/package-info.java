/**
 * The kernel's VFIO behind {@link io.jvfio.client.DeviceHandle}: a PCI device bound to vfio-pci,
 * opened through iommufd ({@code /dev/iommu} and the device cdev) or the legacy container and group
 * ({@code /dev/vfio/vfio}, {@code /dev/vfio/N}), or — only when asked for — without an IOMMU.
 * {@link io.jvfio.client.Devices#open(String)} is the usual way in; {@link io.jvfio.client.kernel.KernelDevices}
 * opens with options; {@link io.jvfio.client.kernel.VfioPciBinding} binds a device to vfio-pci and
 * gives it back.
 */
package io.jvfio.client.kernel;
