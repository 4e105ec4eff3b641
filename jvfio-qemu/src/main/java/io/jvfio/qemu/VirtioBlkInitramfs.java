package io.jvfio.qemu;

import java.io.IOException;

/**
 * The initramfs of a guest that drives a virtio-blk disk: the kernel modules of the disk and of the
 * ext4 file system on it, and e2fsprogs to make and check that file system. The guest test of the
 * Java disk and {@code jvfio bench virtio-blk} boot the same guest.
 */
public final class VirtioBlkInitramfs {
    /** Kernel modules the guest loads, in order: the PCI transport, the disk, ext4 and its checksum. */
    public static final String[] MODULES = {"virtio_pci", "virtio_blk", "crc32c_generic", "ext4"};

    private VirtioBlkInitramfs() {}

    /** An initramfs with the disk's modules and e2fsprogs; the caller adds anything else and builds it. */
    public static Initramfs.Builder builder(GuestToolchain toolchain, String script) throws IOException {
        return Initramfs.builder(toolchain)
                .modules(MODULES)
                .program("/usr/sbin/mke2fs")
                .program("/usr/sbin/e2fsck")
                .symlink("/etc/mtab", "/proc/mounts")
                .script(script);
    }
}
