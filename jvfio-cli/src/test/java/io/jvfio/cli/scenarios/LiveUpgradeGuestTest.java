package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.testing.GuestTests;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.function.ToDoubleFunction;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Live upgrade as a user does it, under a real guest's I/O: one QEMU 11.1 guest (TCG) runs fio's
 * write-then-verify (crc32c, direct I/O, two jobs at depth 8 each) round after round on a jvfio
 * virtio-blk disk and on a jvfio NVMe namespace at once, while the test replaces each device's
 * {@code jvfio serve … --handover-socket CTRL} process by a new {@code jvfio serve … --take-over GO
 * --take-over-wait 10m --handover-socket CTRL} process again and again (the same build; see {@link
 * UpgradedServer}: the successor is started ahead and takes over when the test links GO to CTRL, so
 * its JVM's start-up is neither in the pause nor in the test's time). Then: every
 * fio round passed on both devices, and a verify-only pass after the last upgrade; the guest's
 * kernel logged no I/O error, timeout, reset or virtio complaint; every old server handed over and
 * exited 0, every successor resumed and handled the client's commands; the image files hold the
 * bytes the guest read last. With shared guest memory (DMA through the mapped memfd) and with
 * private memory (DMA by messages), fewer upgrades there.
 *
 * <p>Printed: each device's pauses (the servers' own measure, docs/reliability.md: the old server's
 * last command handled to the new one's first) and how long its device was stopped (the old
 * server's device stop to the successor's device running: what issue 19's goal is judged on), each
 * as min / median / max, where they went by phase, and the guest's view — fio's largest completion
 * latency over the run, which holds the pauses.
 */
class LiveUpgradeGuestTest {
    static final long IMAGE_BYTES = 64L << 20;
    /** Where the host tells the guest the upgrades are done: a block of the virtio-blk disk past fio's region. */
    static final long MAILBOX_LBA = (60L << 20) / 512;
    static final int FIO_JOBS = 2, FIO_DEPTH = 8;
    static final long FIO_JOB_BYTES = 4L << 20;
    /** What no line of the guest kernel's log may say during the run. */
    static final Pattern KERNEL_COMPLAINT = Pattern.compile(
            "(?i)I/O error|timeout|reset|abort|blk_update_request|critical|broken|virtio.*(error|fail)|nvme.*(error|fail|down)");

    private GuestToolchain toolchain;
    private Path dir;
    private UpgradedServer blk, nvme;

    /** A served device: how the tables name it, how the guest script does, and its servers. */
    private record Device(String label, String guestName, UpgradedServer server) {}

    private List<Device> devices() {
        return List.of(new Device("virtio-blk", "vda", blk), new Device("NVMe", "nvme", nvme));
    }

    @BeforeEach
    void prepare() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        toolchain = GuestToolchain.locate();
        dir = Files.createDirectories(toolchain.runRoot().resolve("upgrade-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (UpgradedServer server : new UpgradedServer[] {blk, nvme}) {
            if (server != null) {
                server.close();
            }
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    @ParameterizedTest(name = "shared guest memory: {0}, {1} upgrades of each server")
    @CsvSource({"true, 20", "false, 5"})
    void fioVerifyPassesOnBothDisksWhileTheirServersAreUpgraded(boolean sharedMemory, int upgradesEach) throws Exception {
        Path blkImage = image("blk.img"), nvmeImage = image("nvme.img");
        String classPath = UpgradedServer.classPath(dir);
        blk = new UpgradedServer(dir, "blk", classPath, "virtio-blk", "--disk", blkImage.toString(), "--serial", "jvfio-upgraded");
        nvme = new UpgradedServer(dir, "nvme", classPath, "nvme", "--namespace", nvmeImage.toString(), "--serial", "JVUPGRADE0001");
        blk.start();
        nvme.start();
        Initramfs initramfs = Initramfs.builder(toolchain)
                .modules("virtio_pci", "virtio_blk", "nvme")
                .program("/usr/bin/fio")
                .script("mailbox_lba=%d fio_jobs=%d fio_job_bytes=%d fio_depth=%d\n".formatted(MAILBOX_LBA, FIO_JOBS, FIO_JOB_BYTES, FIO_DEPTH)
                        + script())
                .build(dir.resolve("initramfs.img"));
        GuestOptions options = QemuGuest.options().initramfs(initramfs.path()).sharedMemory(sharedMemory)
                .vfioUserDevice(blk.socket()).vfioUserDevice(nvme.socket()).timeout(Duration.ofSeconds(900));
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(toolchain, options)) {
            guest.launch();
            long launched = System.nanoTime();
            // The first round on each device runs with no upgrade: the guest's latency without one.
            for (Device device : devices()) {
                String firstRound = "JVFIO-RESULT: fio " + device.guestName() + " round 1 ";
                assertThat(guest.awaitConsoleLine(line -> line.contains(firstRound), Duration.ofSeconds(400)))
                        .as("the guest's first fio round on " + device.label() + ":\n" + guest.consoleSoFar()).isTrue();
            }
            long upgrading = System.nanoTime();
            for (int u = 1; u <= upgradesEach && guest.isAlive(); u++) {
                // Both successors' JVMs start while the servers serve; then one hand-over at a time.
                for (Device device : devices()) {
                    device.server().prepareSuccessor();
                }
                for (Device device : devices()) {
                    device.server().awaitSuccessorReady();
                }
                for (Device device : devices()) {
                    UpgradedServer.Upgrade upgrade = device.server().upgrade();
                    System.out.printf("[upgrade] %s #%d: pause %.1f ms (state at the successor after %.1f ms, stop and save %.1f ms,"
                                    + " rebuild %.1f ms, load %.1f ms, commit %.1f ms, rest %.1f ms); device stopped %.1f ms; %d bytes of state,"
                                    + " %d of client input%n",
                            device.label(), upgrade.number(), upgrade.pause(), upgrade.untilStateArrived(), upgrade.stopAndSave(),
                            upgrade.rebuild(), upgrade.load(), upgrade.commit(), upgrade.rest(), upgrade.deviceStopped(), upgrade.stateBytes(),
                            upgrade.unhandledInputBytes());
                }
            }
            mail(blkImage, "upgrades done");
            System.out.printf("[upgrade] booted and one fio round done on each device in %.0f s; %d upgrades of each server in %.0f s%n",
                    (upgrading - launched) / 1e9, upgradesEach, (System.nanoTime() - upgrading) / 1e9);
            result = guest.awaitExit();
        }
        System.out.println(result.console());
        boolean blkStopped = blk.stop(), nvmeStopped = nvme.stop();
        report(result, sharedMemory);

        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(blk.upgrades()).as("virtio-blk upgrades").hasSize(upgradesEach);
        assertThat(nvme.upgrades()).as("NVMe upgrades").hasSize(upgradesEach);
        assertThat(blk.allHandedOver()).as("every old virtio-blk server handed over and exited 0\n" + blk.logs()).isTrue();
        assertThat(nvme.allHandedOver()).as("every old NVMe server handed over and exited 0\n" + nvme.logs()).isTrue();
        assertThat(blkStopped && nvmeStopped).as("the last servers stop cleanly on SIGTERM").isTrue();
        assertThat(result.results()).contains("drivers virtio_blk nvme", "vda verified after the upgrades",
                "nvme verified after the upgrades", "nvme state live");
        for (Device device : devices()) {
            String fio = "fio " + device.guestName() + " ";
            assertThat(result.results()).as("fio on " + device.label())
                    .anyMatch(r -> r.startsWith(fio + "verify passed rounds "))
                    .noneMatch(r -> r.startsWith(fio) && r.contains("failed"));
        }
        assertThat(dmesg(result)).as("the guest kernel's log during the run").noneMatch(l -> KERNEL_COMPLAINT.matcher(l).find());
        // What the guest read last is what the image files hold.
        long region = FIO_JOBS * FIO_JOB_BYTES;
        assertThat(result.results()).contains("sha256 vda " + sha256(blkImage, region), "sha256 nvme0n1 " + sha256(nvmeImage, region));
    }

    /** The pause table (the servers' measure) and the guest's view (fio's clat max over the run). */
    private void report(GuestResult result, boolean sharedMemory) {
        System.out.printf("[upgrade] guest memory %s; pauses from the old server's last command handled to the new one's first:%n",
                sharedMemory ? "shared (memfd)" : "private (DMA by messages)");
        System.out.println("| device | upgrades | pause min | median | max | device stopped: min | median | max | fio clat max: round 1"
                + " (no upgrade) | whole run |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (Device device : devices()) {
            List<UpgradedServer.Upgrade> upgrades = device.server().upgrades();
            List<Double> pauses = upgrades.stream().map(UpgradedServer.Upgrade::pause).toList(),
                    stopped = upgrades.stream().map(UpgradedServer.Upgrade::deviceStopped).toList();
            String clat = clatMax(result, "fio " + device.guestName() + " verify passed rounds "),
                    baseline = clatMax(result, "fio " + device.guestName() + " round 1 passed ");
            System.out.printf("| %s | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %s | %s |%n", device.label(),
                    upgrades.size(), pauses.stream().min(Double::compare).orElse(Double.NaN), UpgradedServer.median(pauses),
                    UpgradedServer.max(pauses).orElse(Double.NaN), stopped.stream().min(Double::compare).orElse(Double.NaN),
                    UpgradedServer.median(stopped),
                    UpgradedServer.max(stopped).orElse(Double.NaN), baseline, clat);
        }
        System.out.println("[upgrade] medians by phase (ms): device | until the state arrived | of it stop and save | rebuild | load | commit | rest");
        for (Device device : devices()) {
            UpgradedServer server = device.server();
            System.out.printf("[upgrade] %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f%n", device.label(),
                    phase(server, UpgradedServer.Upgrade::untilStateArrived), phase(server, UpgradedServer.Upgrade::stopAndSave),
                    phase(server, UpgradedServer.Upgrade::rebuild), phase(server, UpgradedServer.Upgrade::load),
                    phase(server, UpgradedServer.Upgrade::commit), phase(server, UpgradedServer.Upgrade::rest));
        }
    }

    /** The clat max (in ms) of the guest's line that starts with {@code prefix}. */
    private static String clatMax(GuestResult result, String prefix) {
        return result.results().stream().filter(r -> r.startsWith(prefix))
                .map(r -> r.replaceAll(".*clat max (\\d+) us.*", "$1")).findFirst()
                .map(us -> "%.1f ms".formatted(Long.parseLong(us) / 1e3)).orElse("?");
    }

    private static double phase(UpgradedServer server, ToDoubleFunction<UpgradedServer.Upgrade> phase) {
        return UpgradedServer.median(server.upgrades().stream().map(u -> phase.applyAsDouble(u)).toList());
    }

    private Path image(String name) throws Exception {
        Path image = dir.resolve(name);
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(IMAGE_BYTES);
        }
        return image;
    }

    /** Writes {@code text} into the mailbox block of the virtio-blk image, where the guest polls for it. */
    private static void mail(Path image, String text) throws Exception {
        try (FileChannel file = FileChannel.open(image, StandardOpenOption.WRITE)) {
            file.write(ByteBuffer.wrap((text + "\n").getBytes(StandardCharsets.US_ASCII)), MAILBOX_LBA * 512);
        }
    }

    private static List<String> dmesg(GuestResult result) {
        return result.results().stream().filter(r -> r.startsWith("dmesg ")).map(r -> r.substring("dmesg ".length())).toList();
    }

    private static String sha256(Path file, long length) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (FileChannel channel = FileChannel.open(file)) {
            ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
            for (long offset = 0; offset < length; ) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), length - offset));
                int n = channel.read(buffer, offset);
                if (n < 0) {
                    break;
                }
                offset += n;
                digest.update(buffer.flip());
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static String script() throws Exception {
        try (InputStream in = LiveUpgradeGuestTest.class.getResourceAsStream("live-upgrade-guest.sh")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
