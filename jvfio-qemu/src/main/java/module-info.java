/**
 * The guest test harness: boots a real Linux guest (Debian kernel, busybox initramfs) in QEMU,
 * run inside a provisioned Debian chroot, optionally with vfio-user devices, and returns a verdict.
 */
module io.jvfio.qemu {
    exports io.jvfio.qemu;
}
