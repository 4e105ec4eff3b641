package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.testing.GuestTests;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Java NVMe driver through the kernel's VFIO, in one boot (20–45 s under TCG) of a q35 guest with an
 * emulated Intel IOMMU (caching mode), Debian's kernel — the legacy container and group: it has no iommufd — and
 * this test's JDK and class path over 9p ({@link KernelNvmeGuest}). Linux's nvme driver holds every NVMe controller
 * at first: QEMU's own ({@code -device nvme} on an image file); jvfio's, served by this test and reached through
 * QEMU's vfio-user-pci behind the same IOMMU (the full circle: host Java controller → vfio-user → guest vfio-pci →
 * guest Java driver); and two of QEMU's behind a conventional PCI bridge, which share an IOMMU group.
 * {@link KernelNvmeProbe}, in the guest, is refused before binding, binds QEMU's controller to vfio-pci, prints
 * {@code jvfio lspci -vv} and {@code jvfio nvme id-ctrl} of it, writes, reads and compares 256 KiB patterns (a PRP
 * list) polled and with MSI-X, across a controller reset and a VFIO_DEVICE_RESET, in shared and in registered
 * memory; gets clear errors for iommufd (absent), a bad IOVA, an unmap of nothing and the group that is not viable;
 * gives the controllers back to nvme; then writes through the vfio-user controller the same way. No descriptor is
 * left open; afterwards the host's image files hold the patterns byte for byte.
 */
class KernelVfioNvmeGuestTest {
    /** A conventional PCI bridge: the devices behind it share its IOMMU group. */
    static final String BRIDGE = "0000:00:10.0";
    static final int CONTROLLERS_BEHIND_BRIDGE = 2;

    private GuestToolchain toolchain;
    private KernelNvmeGuest guest;

    @BeforeEach
    void serve() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        toolchain = GuestToolchain.locate();
        guest = new KernelNvmeGuest(toolchain);
    }

    @AfterEach
    void stop() throws Exception {
        if (guest != null) {
            guest.close();
        }
    }

    @Test
    void javaNvmeDriverDrivesControllersBoundToVfioPciBehindAnIommu() throws Exception {
        GuestOptions options = guest.options(true);
        options.extraArgs("-device", "pci-bridge,id=jvfio-bridge,chassis_nr=1,addr=" + BRIDGE.substring(8, 10));
        for (int i = 0; i < CONTROLLERS_BEHIND_BRIDGE; i++) {
            Path image = guest.dir().resolve("bridged" + i + ".img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(1 << 20);
            }
            options.extraArgs("-drive", "file=" + toolchain.toChrootPath(image) + ",if=none,format=raw,id=jvfio-bridged" + i,
                    "-device", "nvme,serial=JVFIOBRIDGED" + i + ",drive=jvfio-bridged" + i + ",bus=jvfio-bridge,addr=" + (i + 1) + ".0");
        }
        KernelNvmeGuest.Run run = guest.run(guest.initramfs(), options, 2 + CONTROLLERS_BEHIND_BRIDGE, "",
                KernelNvmeGuest.PATTERN_ARGS + " group=" + BRIDGE, "kernel-vfio nvme guest");

        KernelNvmeGuest.assertDrove(run, "LEGACY no-iommu false");
        KernelNvmeGuest.assertCircled(run, "LEGACY no-iommu false");
        List<String> results = run.guest().results();
        assertThat(results).contains("pattern polled read in memory the driver registered matches");
        assertThat(results).as("iommufd asked for on a kernel without it").anyMatch(r -> r.startsWith("iommufd refused errno 2")
                && r.contains("has no VFIO cdev"));
        assertThat(results).as("an IOVA outside the IOMMU's ranges").anyMatch(r -> r.startsWith("dma outside ranges refused errno 22")
                && r.contains("outside the ranges the IOMMU allows"));
        assertThat(results).as("a group that is not viable").anyMatch(r -> r.startsWith("group not viable refused errno 16")
                && r.contains("is not viable") && r.contains("(nvme)"));
        assertThat(results).anyMatch(r -> r.startsWith("group released ") && r.endsWith(" to nvme"));
    }
}
