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
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;

/**
 * One guest run of {@link KernelNvmeProbe}, as the kernel-VFIO NVMe tests make it: QEMU's NVMe controller at
 * {@link #BDF} on an image file, and jvfio's NVMe controller served here and attached through QEMU's vfio-user-pci
 * (guest memory shared), with this test's JDK and class path over 9p; Linux's nvme driver loads and holds the
 * controllers until the probe takes them. After the guest, the patterns as the image files hold them.
 */
final class KernelNvmeGuest implements AutoCloseable {
    static final String BDF = GuestOptions.nvmeAddress(0);
    static final String SERIAL = "JVFIOKDRIVE01", SERVED_SERIAL = "JVFIOCIRCLE01";
    static final long IMAGE_BYTES = 16L << 20;
    /** Where the patterns go: LBAs that are not 4 KiB-aligned, 256 KiB each. */
    static final long POLLED_LBA = 1005, INTERRUPT_LBA = 5003, CIRCLE_LBA = 2011;
    static final String POLLED = "polled", INTERRUPTS = "msix", CIRCLE = "circle";
    /** The probe's arguments for the three patterns. */
    static final String PATTERN_ARGS = "polled=%d:%s msix=%d:%s circle=%d:%s".formatted(POLLED_LBA, POLLED, INTERRUPT_LBA,
            INTERRUPTS, CIRCLE_LBA, CIRCLE);
    /** Under TCG, C1 alone: C2's compilations cost more than they save in a run this short. */
    private static final String JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 --enable-native-access=ALL-UNNAMED";

    /** What a run left: the guest's output and the patterns read from the image files afterwards. */
    record Run(GuestResult guest, byte[] polled, byte[] interrupts, byte[] circle) {}

    private final GuestToolchain toolchain;
    private final Path dir;
    private final NvmeController served;
    private final VfioUserServer server;

    /** Serves jvfio's controller for a guest of {@code toolchain}'s (in its rootfs, where QEMU's chroot sees it). */
    KernelNvmeGuest(GuestToolchain toolchain) throws IOException {
        this.toolchain = toolchain;
        this.dir = Files.createDirectories(toolchain.runRoot().resolve("kdrive-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
        this.served = NvmeController.builder().serial(SERVED_SERIAL)
                .namespace(BlockImage.open(dir.resolve("served.img"), IMAGE_BYTES, false)).build();
        this.server = VfioUserServer.bind(dir.resolve("nvme.sock"), served, ServerOptions.defaults());
        server.start();
    }

    Path dir() {
        return dir;
    }

    /** The initramfs's modules (nvme, vfio-pci with the type1 IOMMU, iommufd where the kernel has it) and Java. */
    Initramfs.Builder initramfs() {
        return Initramfs.builder(toolchain).modules("nvme", "vfio_pci", "vfio_iommu_type1").optionalModules("iommufd").java();
    }

    /** 1.5 GiB shared, 2 vCPUs, the two controllers, Java; the emulated Intel IOMMU when asked for. */
    GuestOptions options(boolean intelIommu) {
        return QemuGuest.options().memoryMiB(1536).cpus(2).intelIommu(intelIommu).sharedMemory(true)
                .nvme(Path.of("nvme.img"), SERIAL).vfioUserDevice(server.socketPath().orElseThrow())
                .java(GuestOptions.currentClasspath()).timeout(Duration.ofSeconds(300));
    }

    /**
     * Runs the probe on {@link #BDF} with {@code probeArgs} once {@code controllers} NVMe controllers are live, after
     * the shell lines {@code prelude}; prints the console and the results, tagged {@code label}.
     */
    Run run(Initramfs.Builder initramfs, GuestOptions options, int controllers, String prelude, String probeArgs, String label)
            throws Exception {
        String script;
        try (InputStream in = KernelNvmeGuest.class.getResourceAsStream("kernel-vfio-nvme-guest.sh")) {
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        script = script.replace("@BDF@", BDF).replace("@CONTROLLERS@", Integer.toString(controllers)).replace("@PRELUDE@", prelude)
                .replace("@JAVA_OPTIONS@", JAVA_OPTIONS).replace("@PROBE_ARGS@", probeArgs);
        options.initramfs(initramfs.script(script).build(dir.resolve("initramfs.img")));
        GuestResult result;
        byte[] polled, interrupts;
        long t0 = System.nanoTime();
        try (QemuGuest guest = QemuGuest.prepare(toolchain, options)) {
            Path image = guest.workDir().resolve("nvme.img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(IMAGE_BYTES);
            }
            guest.launch();
            result = guest.awaitExit();
            polled = readPattern(image, POLLED_LBA);
            interrupts = readPattern(image, INTERRUPT_LBA);
        }
        System.out.println(result.console());
        System.out.printf("[%s] run took %d ms%n", label, Duration.ofNanos(System.nanoTime() - t0).toMillis());
        result.results().forEach(r -> System.out.println("[" + label + "] " + r));
        return new Run(result, polled, interrupts, readPattern(dir.resolve("served.img"), CIRCLE_LBA));
    }

    /**
     * What every run shows of QEMU's controller: refused before binding, bound, the CLI, the patterns polled, after
     * both resets and with MSI-X (interrupts counted), the bad unmap refused, given back, no descriptor left open,
     * {@code backend} (the probe's "backend ..." line begins so), and the patterns in the host's image file.
     */
    static void assertDrove(Run run, String backend) {
        GuestResult result = run.guest();
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.results()).as(result.describe()).contains(
                "bound " + BDF + " to vfio-pci (was nvme)", "cli lspci exit 0", "cli id-ctrl exit 0",
                "pattern polled written polled at lba " + POLLED_LBA, "pattern polled read polled matches",
                "pattern polled read after the driver's controller reset matches", "VFIO_DEVICE_RESET done",
                "interrupts enabled true", "pattern polled read after VFIO_DEVICE_RESET matches",
                "pattern msix read with interrupts matches", "released " + BDF + " to nvme", "migration offered false");
        assertThat(result.results()).as("the backend").anyMatch(r -> r.startsWith("backend " + backend));
        assertThat(result.results()).as("doorbells by stores into the mapped BAR").anyMatch(r -> r.startsWith("driver up: QEMU NVMe Ctrl")
                && r.endsWith("doorbells mapped true"));
        assertThat(result.results()).as("the refusal before binding").anyMatch(r -> r.startsWith("open before binding refused")
                && r.contains(BDF + " is bound to the driver nvme, not vfio-pci"));
        assertThat(result.results()).as("an unmap of memory never mapped").anyMatch(r -> r.startsWith("unmap never mapped refused errno 2")
                && r.contains("never mapped"));
        assertThat(result.results()).as("MSI-X interrupts through vfio-pci").anyMatch(r -> r.startsWith("vfio-msix interrupts ")
                && Long.parseLong(r.substring("vfio-msix interrupts ".length())) > 0);
        assertThat(result.results()).as("no descriptor left open").noneMatch(r -> r.startsWith("fds differ"));
        assertThat(result.console()).as("id-ctrl of QEMU's controller").contains("sn        : " + SERIAL);
        assertThat(Arrays.mismatch(run.polled(), KernelNvmeProbe.pattern(POLLED, POLLED_LBA))).as("the polled pattern in the host's image")
                .isEqualTo(-1);
        assertThat(Arrays.mismatch(run.interrupts(), KernelNvmeProbe.pattern(INTERRUPTS, INTERRUPT_LBA)))
                .as("the MSI-X pattern in the host's image").isEqualTo(-1);
    }

    /** The full circle: jvfio's controller through vfio-user, driven by the same driver through {@code backend}. */
    static void assertCircled(Run run, String backend) {
        GuestResult result = run.guest();
        assertThat(result.results()).as("the full circle").contains("circle backend " + backend, "pattern circle read circle matches");
        assertThat(result.results()).anyMatch(r -> r.startsWith("circle bound ") && r.endsWith("to vfio-pci (was nvme)"));
        assertThat(result.results()).as("MSI-X interrupts of the vfio-user controller").anyMatch(r -> r.startsWith("circle vfio-msix interrupts ")
                && Long.parseLong(r.substring("circle vfio-msix interrupts ".length())) > 0);
        assertThat(Arrays.mismatch(run.circle(), KernelNvmeProbe.pattern(CIRCLE, CIRCLE_LBA))).as("the circle's pattern in the served image")
                .isEqualTo(-1);
    }

    private static byte[] readPattern(Path image, long lba) throws IOException {
        byte[] pattern = new byte[KernelNvmeProbe.PATTERN_BLOCKS * KernelNvmeProbe.BLOCK_SIZE];
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            f.seek(lba * KernelNvmeProbe.BLOCK_SIZE);
            f.readFully(pattern);
        }
        return pattern;
    }

    @Override
    public void close() throws IOException {
        server.close();
        served.shutdown();
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
