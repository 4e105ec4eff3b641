package io.jvfio.qemu.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.testing.GuestTests;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness for the kernel VFIO backend's guests, in one boot: a q35 guest with an emulated Intel IOMMU, QEMU's
 * own NVMe controller on an image file, 2 GiB and 2 vCPUs, and this test's JDK and class path shared over 9p. The
 * guest reads a pattern the host put in the image and writes one through Linux's nvme driver, rebinds the controller
 * to vfio-pci, finds /dev/vfio/&lt;group&gt;, and runs {@link VfioGroupProbe} from this class path, which opens the
 * container and the group. Afterwards the image holds the guest's pattern. The guest prints how long the JVM took.
 */
class KernelVfioGuestTest {
    static final String SERIAL = "JVFIOKVFIO0001";
    static final String HOST_PATTERN = "jvfio host pattern";
    static final long IMAGE_BYTES = 16L << 20;
    static final int BLOCK = 512, GUEST_PATTERN_BLOCK = 8;

    @TempDir Path tmp;

    @Test
    void javaInTheGuestOpensTheGroupOfAnNvmeControllerBoundToVfioPci() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        GuestToolchain toolchain = GuestToolchain.locate();
        String bdf = GuestOptions.nvmeAddress(0);
        Initramfs initramfs = Initramfs.builder(toolchain)
                .modules("nvme", "vfio_pci", "vfio_iommu_type1")
                .optionalModules("iommufd")
                .java()
                .script(script().replace("@BDF@", bdf))
                .build(tmp.resolve("initramfs.img"));
        GuestOptions options = QemuGuest.options().initramfs(initramfs).memoryMiB(2048).cpus(2).intelIommu(true)
                .nvme(Path.of("nvme.img"), SERIAL).java(GuestOptions.currentClasspath()).timeout(Duration.ofSeconds(240));
        GuestResult result;
        byte[] guestBlock = new byte[BLOCK];
        long t0 = System.nanoTime();
        try (QemuGuest guest = QemuGuest.prepare(toolchain, options)) {
            Path image = guest.workDir().resolve("nvme.img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(IMAGE_BYTES);
                f.write((HOST_PATTERN + "\n").getBytes(StandardCharsets.US_ASCII));
            }
            guest.launch();
            result = guest.awaitExit();
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
                f.seek((long) GUEST_PATTERN_BLOCK * BLOCK);
                f.readFully(guestBlock);
            }
        }
        System.out.println(result.console());
        System.out.printf("[kernel-vfio guest] run took %d ms%n", Duration.ofNanos(System.nanoTime() - t0).toMillis());
        result.results().forEach(r -> System.out.println("[kernel-vfio guest] " + r));
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.results()).as(result.describe()).contains(
                "before driver nvme serial " + SERIAL, "host pattern " + HOST_PATTERN, "after driver vfio-pci",
                "driver vfio-pci", "container api 0 type1v2 1", "group viable true", "opened /dev/vfio/vfio");
        String group = result.results().stream().filter(r -> r.startsWith("iommu group ") && !r.contains("devices"))
                .findFirst().orElseThrow().substring("iommu group ".length());
        assertThat(result.results()).contains("/dev/vfio/" + group + " exists", "opened /dev/vfio/" + group,
                "iommu group " + group + " devices " + bdf);
        assertThat(result.results()).anyMatch(r -> r.startsWith("java " + Runtime.version().feature() + "."));
        assertThat(result.results()).anyMatch(r -> r.startsWith("dmar dmar"));

        byte[] expected = Arrays.copyOf(("jvfio guest pattern " + toolchain.kernelRelease() + "\n")
                .getBytes(StandardCharsets.US_ASCII), BLOCK);
        assertThat(guestBlock).as("the block the guest wrote, in the host's image file").isEqualTo(expected);
    }

    private static String script() throws Exception {
        try (InputStream in = KernelVfioGuestTest.class.getResourceAsStream("kernel-vfio-guest.sh")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
