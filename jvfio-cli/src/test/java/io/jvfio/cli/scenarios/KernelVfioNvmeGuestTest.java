package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.GuestTests;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Java NVMe driver through the kernel's VFIO, in one boot of a q35 guest with an emulated Intel IOMMU
 * (caching mode), Debian's kernel (legacy container and group: it has no iommufd) and this test's JDK and class
 * path over 9p. Two NVMe controllers nobody in the guest wrote a driver for in Java at first: QEMU's own
 * ({@code -device nvme} on an image file), and a jvfio controller this test serves, reached through QEMU's
 * vfio-user-pci behind the same IOMMU (the full circle: host Java controller → vfio-user → guest vfio-pci → guest
 * Java driver). Linux's nvme driver holds both; {@link KernelNvmeProbe}, in the guest, is refused before binding,
 * binds QEMU's controller to vfio-pci, prints {@code jvfio lspci -vv} and {@code jvfio nvme id-ctrl} of it, writes,
 * reads and compares 256 KiB patterns (a PRP list) polled and with MSI-X, across a controller reset and a
 * VFIO_DEVICE_RESET, checks the errors for a bad IOVA and an unmap of nothing, gives the controller back to nvme,
 * then does the same write through the vfio-user controller; no descriptor is left open. Afterwards the host's
 * image files hold the patterns byte for byte.
 */
class KernelVfioNvmeGuestTest {
    static final String SERIAL = "JVFIOKDRIVE01", SERVED_SERIAL = "JVFIOCIRCLE01";
    static final long IMAGE_BYTES = 16L << 20;
    /** Where the patterns go: LBAs that are not 4 KiB-aligned, 256 KiB each. */
    static final long POLLED_LBA = 1005, INTERRUPT_LBA = 5003, CIRCLE_LBA = 2011;
    static final String POLLED = "polled", INTERRUPTS = "msix", CIRCLE = "circle";
    /** A conventional PCI bridge: the devices behind it share its IOMMU group. */
    static final String BRIDGE = "0000:00:10.0";
    static final int CONTROLLERS_BEHIND_BRIDGE = 2;

    private GuestToolchain toolchain;
    private Path dir;
    private NvmeController served;
    private VfioUserServer server;

    @BeforeEach
    void serve() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        toolchain = GuestToolchain.locate();
        dir = Files.createDirectories(toolchain.runRoot().resolve("kdrive-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
        served = NvmeController.builder().serial(SERVED_SERIAL).namespace(BlockImage.open(dir.resolve("served.img"), IMAGE_BYTES, false))
                .build();
        server = VfioUserServer.bind(dir.resolve("nvme.sock"), served, ServerOptions.defaults());
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (served != null) {
            served.shutdown();
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    @Test
    void javaNvmeDriverDrivesControllersBoundToVfioPciBehindAnIommu() throws Exception {
        String bdf = GuestOptions.nvmeAddress(0);
        String probeArgs = "polled=%d:%s msix=%d:%s group=%s circle=%d:%s".formatted(POLLED_LBA, POLLED, INTERRUPT_LBA, INTERRUPTS, BRIDGE,
                CIRCLE_LBA, CIRCLE);
        Initramfs initramfs = Initramfs.builder(toolchain)
                .modules("nvme", "vfio_pci", "vfio_iommu_type1")
                .optionalModules("iommufd")
                .java()
                .script(script().replace("@BDF@", bdf).replace("@PROBE_ARGS@", probeArgs)
                        .replace("@CONTROLLERS@", Integer.toString(2 + CONTROLLERS_BEHIND_BRIDGE))
                        .replace("@JAVA_OPTIONS@", "-XX:TieredStopAtLevel=1 --enable-native-access=ALL-UNNAMED"))
                .build(dir.resolve("initramfs.img"));
        GuestOptions options = QemuGuest.options().initramfs(initramfs).memoryMiB(1536).cpus(2).intelIommu(true)
                .sharedMemory(true).nvme(Path.of("nvme.img"), SERIAL).vfioUserDevice(server.socketPath().orElseThrow())
                .java(GuestOptions.currentClasspath()).timeout(Duration.ofSeconds(300));
        options.extraArgs("-device", "pci-bridge,id=jvfio-bridge,chassis_nr=1,addr=" + BRIDGE.substring(8, 10));
        for (int i = 0; i < CONTROLLERS_BEHIND_BRIDGE; i++) {
            Path image = dir.resolve("bridged" + i + ".img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(1 << 20);
            }
            options.extraArgs("-drive", "file=" + toolchain.toChrootPath(image) + ",if=none,format=raw,id=jvfio-bridged" + i,
                    "-device", "nvme,serial=JVFIOBRIDGED" + i + ",drive=jvfio-bridged" + i + ",bus=jvfio-bridge,addr=" + (i + 1) + ".0");
        }
        GuestResult result;
        byte[] polled = new byte[KernelNvmeProbe.PATTERN_BLOCKS * KernelNvmeProbe.BLOCK_SIZE];
        byte[] interrupts = polled.clone();
        long t0 = System.nanoTime();
        try (QemuGuest guest = QemuGuest.prepare(toolchain, options)) {
            Path image = guest.workDir().resolve("nvme.img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(IMAGE_BYTES);
            }
            guest.launch();
            result = guest.awaitExit();
            readBlocks(image, POLLED_LBA, polled);
            readBlocks(image, INTERRUPT_LBA, interrupts);
        }
        System.out.println(result.console());
        System.out.printf("[kernel-vfio nvme guest] run took %d ms%n", Duration.ofNanos(System.nanoTime() - t0).toMillis());
        result.results().forEach(r -> System.out.println("[kernel-vfio nvme guest] " + r));
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.results()).as(result.describe()).contains(
                "bound " + bdf + " to vfio-pci (was nvme)", "cli lspci exit 0", "cli id-ctrl exit 0",
                "pattern polled written polled at lba " + POLLED_LBA, "pattern polled read polled matches",
                "pattern polled read after the driver's controller reset matches", "VFIO_DEVICE_RESET done",
                "interrupts enabled true", "pattern polled read after VFIO_DEVICE_RESET matches",
                "pattern msix read with interrupts matches", "released " + bdf + " to nvme", "migration offered false",
                "pattern polled read in memory the driver registered matches");
        assertThat(result.results()).as("doorbells by stores into the mapped BAR").anyMatch(r -> r.startsWith("driver up: QEMU NVMe Ctrl")
                && r.endsWith("doorbells mapped true"));
        assertThat(result.results()).as("the refusal before binding").anyMatch(r -> r.startsWith("open before binding refused")
                && r.contains(bdf + " is bound to the driver nvme, not vfio-pci"));
        assertThat(result.results()).as("iommufd asked for on a kernel without it").anyMatch(r -> r.startsWith("iommufd refused errno 2")
                && r.contains("has no VFIO cdev"));
        assertThat(result.results()).as("a group that is not viable").anyMatch(r -> r.startsWith("group not viable refused errno 16")
                && r.contains("is not viable") && r.contains("(nvme)"));
        assertThat(result.results()).anyMatch(r -> r.startsWith("group released ") && r.endsWith(" to nvme"));
        assertThat(result.results()).as("Debian's kernel: the legacy backend").anyMatch(r -> r.startsWith("backend LEGACY no-iommu false"));
        assertThat(result.results()).as("an IOVA outside the IOMMU's ranges").anyMatch(r -> r.startsWith("dma outside ranges refused errno 22")
                && r.contains("outside the ranges the IOMMU allows"));
        assertThat(result.results()).as("an unmap of memory never mapped").anyMatch(r -> r.startsWith("unmap never mapped refused errno 2")
                && r.contains("never mapped"));
        assertThat(result.results()).as("MSI-X interrupts through vfio-pci").anyMatch(r -> r.startsWith("vfio-msix interrupts ")
                && Long.parseLong(r.substring("vfio-msix interrupts ".length())) > 0);
        assertThat(result.results()).as("no descriptor left open").noneMatch(r -> r.startsWith("fds differ"));
        assertThat(result.console()).as("id-ctrl of QEMU's controller").contains("sn        : " + SERIAL);

        assertThat(result.results()).as("the full circle").contains("circle backend LEGACY no-iommu false", "pattern circle read circle matches");
        assertThat(result.results()).anyMatch(r -> r.startsWith("circle bound ") && r.endsWith("to vfio-pci (was nvme)"));
        assertThat(result.results()).as("MSI-X interrupts of the vfio-user controller").anyMatch(r -> r.startsWith("circle vfio-msix interrupts ")
                && Long.parseLong(r.substring("circle vfio-msix interrupts ".length())) > 0);

        assertThat(mismatch(polled, KernelNvmeProbe.pattern(POLLED, POLLED_LBA))).as("the polled pattern in the host's image").isEqualTo(-1);
        assertThat(mismatch(interrupts, KernelNvmeProbe.pattern(INTERRUPTS, INTERRUPT_LBA))).as("the MSI-X pattern in the host's image")
                .isEqualTo(-1);
        byte[] circle = new byte[polled.length];
        readBlocks(dir.resolve("served.img"), CIRCLE_LBA, circle);
        assertThat(mismatch(circle, KernelNvmeProbe.pattern(CIRCLE, CIRCLE_LBA))).as("the circle's pattern in the served image")
                .isEqualTo(-1);
    }

    private static int mismatch(byte[] actual, byte[] expected) {
        return Arrays.mismatch(actual, expected);
    }

    private static void readBlocks(Path image, long lba, byte[] into) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            f.seek(lba * KernelNvmeProbe.BLOCK_SIZE);
            f.readFully(into);
        }
    }

    private static String script() throws Exception {
        try (InputStream in = KernelVfioNvmeGuestTest.class.getResourceAsStream("kernel-vfio-nvme-guest.sh")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
