package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.qemu.GuestToolchain;
import io.jvfio.testing.GuestTests;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link KernelVfioNvmeGuestTest}'s probe on the two paths Debian's kernel leaves out, booting the guest kernel that
 * {@code scripts/build-guest-kernel.sh} builds with IOMMUFD, VFIO_DEVICE_CDEV and VFIO_NOIOMMU
 * ({@code $JVFIO_CACHE/kernel-vfio}): iommufd behind the emulated Intel IOMMU (the device cdev bound to an IOAS),
 * and no-IOMMU without one (vfio's enable_unsafe_noiommu_mode, huge pages reserved for the driver's buffers,
 * physical addresses). Both with QEMU's controller and the full circle through vfio-user. Skipped where that kernel
 * is not built: CI does not build it.
 */
class KernelVfioCustomKernelGuestTest {
    static final Path KERNEL = Path.of("kernel-vfio");
    /** 2 MiB each: enough for every buffer of the driver over 4 KiB, each in a huge page of its own. */
    static final int HUGE_PAGES = 96;

    private KernelNvmeGuest guest;

    @BeforeEach
    void serve() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        GuestToolchain debian = GuestToolchain.locate();
        Assumptions.assumeTrue(Files.isRegularFile(debian.cacheDir().resolve(KERNEL).resolve("vmlinuz")),
                () -> "no guest kernel with iommufd and no-IOMMU in " + debian.cacheDir().resolve(KERNEL)
                        + " (scripts/build-guest-kernel.sh builds it)");
        guest = new KernelNvmeGuest(debian.withKernel(KERNEL));
    }

    @AfterEach
    void stop() throws IOException {
        if (guest != null) {
            guest.close();
        }
    }

    @Test
    void iommufdCdevBehindAnIommu() throws Exception {
        KernelNvmeGuest.Run run = guest.run(guest.initramfs(), guest.options(true), 2, "", KernelNvmeGuest.PATTERN_ARGS,
                "kernel-vfio iommufd guest");
        KernelNvmeGuest.assertDrove(run, "IOMMUFD no-iommu false");
        KernelNvmeGuest.assertCircled(run, "IOMMUFD no-iommu false");
        assertThat(run.guest().results()).contains("iommufd present", "pattern polled read in memory the driver registered matches");
        assertThat(run.guest().results()).as("an IOVA outside the IOAS's ranges").anyMatch(r -> r.startsWith("dma outside ranges refused errno 22"));
    }

    @Test
    void noIommuWithPhysicalAddresses() throws Exception {
        String hugePages = "echo %d > /proc/sys/vm/nr_hugepages\necho \"JVFIO-RESULT: huge pages $(cat /proc/sys/vm/nr_hugepages)\""
                .formatted(HUGE_PAGES);
        KernelNvmeGuest.Run run = guest.run(guest.initramfs().moduleParameters("vfio", "enable_unsafe_noiommu_mode=1"),
                guest.options(false), 2, hugePages, KernelNvmeGuest.PATTERN_ARGS + " allow-no-iommu", "kernel-vfio no-iommu guest");
        KernelNvmeGuest.assertDrove(run, "LEGACY no-iommu true");
        KernelNvmeGuest.assertCircled(run, "LEGACY no-iommu true");
        assertThat(run.guest().results()).contains("huge pages " + HUGE_PAGES);
        assertThat(run.guest().results()).as("no-IOMMU unless allowed").anyMatch(r -> r.startsWith("no-IOMMU not allowed refused errno 1")
                && r.contains("is in a no-IOMMU group"));
        assertThat(run.guest().console()).as("the warning").contains(KernelNvmeGuest.BDF + " runs WITHOUT AN IOMMU");
    }
}
