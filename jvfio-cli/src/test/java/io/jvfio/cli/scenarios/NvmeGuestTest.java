package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.nvme.DoorbellStatistics;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.nvme.DmaRegion;
import io.jvfio.nvme.NvmeDriver;
import io.jvfio.nvme.spec.Nvme;
import io.jvfio.protocol.Command;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.VfioUserServer;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real Linux guest in QEMU 11.1 uses the Java NVMe controller through its own nvme driver
 * (nvme-core and nvme from the Debian kernel), with guest memory shared by fd and reached by DMA
 * messages, in two boots of one QEMU (the script reboots it; the device is reset in between).
 * Boot 1: the controller and its three namespaces (an image, a null namespace, a second image)
 * appear with the identity the options gave, in sysfs and through nvme-cli (list, id-ctrl, id-ns,
 * smart-log, get-feature); data written with dd reads back with the same checksum (and is in the
 * image file on the host) and survives a controller reset from sysfs; the null namespace reads
 * zeros; blkdiscard punches a hole in the image file (its allocated blocks drop); ext4 is made on
 * the second image with files and their checksums; fio's write-then-verify passes at depths 1, 16
 * and 32 (two jobs, one per vCPU) and with polled I/O — the nvme module's {@code write_queues=1
 * poll_queues=1} and two vCPUs make four I/O queues: one for writes, two for reads, one
 * polled. Boot 2: e2fsck finds the file system clean, the files match their checksums, and fio
 * verify passes while the controller is reset from sysfs under it. Linux sets up shadow doorbells
 * (OACS bit 8), so during the fio run at depth 16 it rings the trapped submission doorbells for
 * only a fraction of the commands (the figure is printed).
 *
 * <p>The host's Java NVMe driver ({@code io.jvfio.nvme}, over a {@link VfioUserClient}, in the same
 * memory mode as the guest) and the guest see the same data both ways, on the same boots: before
 * QEMU connects, the driver writes a pattern to namespace 1 and disconnects; boot 1 reads it with
 * O_DIRECT and compares it with the same pattern made in the guest, then writes a pattern of its own;
 * after the guest has powered off, the driver connects again and reads the guest's pattern byte for
 * byte. A pattern is a 512-byte block per LBA, "jvfio WRITER lba N" blank-padded with a newline.
 */
class NvmeGuestTest {
    static final long IMAGE_BYTES = 64L << 20, NULL_BYTES = 32L << 20, FS_IMAGE_BYTES = 32L << 20;
    /** A write queue, a read queue per vCPU and a polled queue. */
    static final String NVME_PARAMETERS = "write_queues=1 poll_queues=1";
    static final int CPUS = 2, IO_QUEUES = 4;
    static final String SERIAL = "JVGUEST0001", MODEL = "jvfio guest controller", FIRMWARE = "0.9.1";
    /**
     * Where on namespace 1 the Java driver's and the guest's patterns go: 256 KiB each (a PRP list for
     * the driver), from LBAs that are not 4 KiB-aligned, clear of what the script's dd and fio write.
     */
    static final long JAVA_LBA = (32L << 20) / 512 + 5, GUEST_LBA = (56L << 20) / 512 + 11;
    static final int PATTERN_BLOCKS = 512, BLOCK_SIZE = 512;

    private ServedGuestNvme served;
    private GuestToolchain toolchain;
    private Path dir;
    private NvmeController nvme;
    private VfioUserServer server;

    @BeforeEach
    void serve() throws Exception {
        served = ServedGuestNvme.start("nvme", in -> NvmeController.builder().serial(SERIAL).model(MODEL).firmware(FIRMWARE)
                .namespace(BlockImage.open(in.resolve("disk.img"), IMAGE_BYTES, false))
                .namespace(new NullStore(NULL_BYTES))
                .namespace(BlockImage.open(in.resolve("fs.img"), FS_IMAGE_BYTES, false))
                .build());
        toolchain = served.toolchain();
        dir = served.dir();
        nvme = served.controller();
        server = served.server();
    }

    @AfterEach
    void stop() throws Exception {
        if (served != null) {
            served.close();
        }
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void linuxNvmeDriverUsesTheJavaController(boolean sharedMemory) throws Exception {
        Initramfs initramfs = Initramfs.builder(toolchain)
                .modules("nvme", "crc32c_generic", "ext4")
                .moduleParameters("nvme", NVME_PARAMETERS)
                .program("/usr/bin/fio")
                .program("/usr/sbin/nvme")
                .program("/usr/bin/lspci")
                .program("/usr/sbin/mke2fs")
                .program("/usr/sbin/e2fsck")
                .symlink("/etc/mtab", "/proc/mounts")
                .script("java_lba=%d guest_lba=%d pattern_blocks=%d\n".formatted(JAVA_LBA, GUEST_LBA, PATTERN_BLOCKS) + script())
                .build(dir.resolve("initramfs.img"));
        GuestOptions options = QemuGuest.options().initramfs(initramfs.path()).sharedMemory(sharedMemory)
                .vfioUserDevice(server.socketPath().orElseThrow()).cpus(CPUS)
                .allowReboot(true).bootsToRun(2).timeout(Duration.ofSeconds(400));
        NvmeDriver.Options driverOptions = NvmeDriver.Options.defaults().withSharedMemory(sharedMemory);
        writeWithJavaDriver(driverOptions, pattern("java", JAVA_LBA), JAVA_LBA);
        GuestResult result;
        DoorbellStatistics doorbells = nvme.doorbellStatistics();
        long ringsBefore = 0, commandsBefore = 0, ringsAtDepth = -1, commandsAtDepth = -1;
        try (QemuGuest guest = QemuGuest.prepare(toolchain, options)) {
            guest.launch();
            if (guest.awaitConsoleLine(line -> line.contains("JVFIO-RESULT: fio qd16 starts"), Duration.ofSeconds(400))) {
                ringsBefore = doorbells.trappedSubmissionDoorbells();
                commandsBefore = doorbells.ioCommands();
                if (guest.awaitConsoleLine(line -> line.contains("JVFIO-RESULT: fio verify qd16 passed"), Duration.ofSeconds(400))) {
                    ringsAtDepth = doorbells.trappedSubmissionDoorbells() - ringsBefore;
                    commandsAtDepth = doorbells.ioCommands() - commandsBefore;
                }
            }
            result = guest.awaitExit();
        }
        System.out.println(result.console());
        result.results().stream().filter(r -> r.startsWith("dmesg ") || r.startsWith("step ") || r.startsWith("nvme list "))
                .forEach(r -> System.out.println("[nvme] " + r));
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.boots()).as("boots").isEqualTo(2);
        assertThat(result.results()).as("the controller never failed").noneMatch(r -> r.contains("controller is down"));
        assertThat(result.results()).as("dmesg: no command timed out").noneMatch(r -> r.contains("timeout"));
        assertThat(result.results()).contains("java driver's pattern read", "guest's pattern written");
        // The guest has powered off: the Java driver reads what it wrote.
        byte[] read = readWithJavaDriver(driverOptions, GUEST_LBA);
        int mismatch = Arrays.mismatch(read, pattern("guest", GUEST_LBA));
        assertThat(mismatch).as(() -> "the guest's pattern as the Java driver reads it: first difference in the block at LBA %d: %s"
                .formatted(GUEST_LBA + mismatch / BLOCK_SIZE, block(read, mismatch / BLOCK_SIZE))).isEqualTo(-1);

        assertThat(result.results()).contains("namespaces 3", "queues " + IO_QUEUES, "io_poll 1", "driver nvme", "model " + MODEL,
                "serial " + SERIAL, "firmware " + FIRMWARE, "sectors " + IMAGE_BYTES / 512, "null sectors " + NULL_BYTES / 512,
                "checksums match", "state after reset live", "checksums match after reset", "null namespace reads zeros",
                "discarded 40m 8m", "fio verify qd1 passed", "fio verify qd16 passed", "fio verify qd32 2 jobs passed",
                "fio verify polled qd8 passed");
        assertThat(result.results()).as("dmesg").anyMatch(r -> r.endsWith("1/2/1 default/read/poll queues"));
        // nvme-cli reads what the options and the namespaces say.
        assertThat(result.results()).contains("id-ctrl mn " + MODEL, "id-ctrl sn " + SERIAL, "id-ctrl fr " + FIRMWARE,
                "id-ctrl oacs 0x" + Integer.toHexString(Nvme.OACS_DOORBELL_BUFFER_CONFIG), "id-ns 1 nsze " + IMAGE_BYTES / 512 + " lbads 9",
                "id-ns 3 nsze " + FS_IMAGE_BYTES / 512 + " lbads 9", "smart-log critical_warning 0", "smart-log available_spare 100%",
                "get-feature queues sq " + IO_QUEUES + " cq " + IO_QUEUES, "get-feature volatile write cache 1");
        assertThat(result.results()).as("smart-log temperature").anyMatch(r -> r.startsWith("smart-log temperature 40"));
        assertThat(result.results().stream().filter(r -> r.startsWith("nvme list /dev/nvme0n") && r.contains(SERIAL)
                && r.contains(MODEL) && r.endsWith(FIRMWARE))).as("nvme list").hasSize(3);
        // ext4 on the second image survives the reboot; fio verify survives a reset under it.
        assertThat(result.results()).contains("ext4 files 5", "ext4 unmounted", "rebooting", "rebooted namespaces 3", "e2fsck clean boot=2",
                "checksums match boot=2", "reset while fio runs", "state after reset under fio live", "fio verify across reset passed");

        // What the guest wrote with dd is in the image file, at the offset it wrote it.
        String written = result.results().stream().filter(r -> r.startsWith("sha256 written ")).findFirst().orElseThrow()
                .substring("sha256 written ".length());
        assertThat(sha256(dir.resolve("disk.img"), 3L << 20, 8 << 20)).isEqualTo(written);
        // The discarded 8 MiB read zeros and are no longer allocated: only dd's and fio's 8 MiB each are.
        assertThat(sha256(dir.resolve("disk.img"), 40L << 20, 8 << 20)).isEqualTo(sha256OfZeros(8 << 20));
        try (Fd image = Linux.open(dir.resolve("disk.img"), false)) {
            assertThat(Linux.allocatedBytes(image)).as("allocated bytes of the image").isLessThan(3L * (8 << 20));
        }

        var stats = server.stats();
        if (sharedMemory) {
            assertThat(stats.mappedDmaWindows()).isPositive();
        } else {
            assertThat(stats.mappedDmaWindows()).isZero();
        }
        assertThat(stats.count(Command.REGION_WRITE)).as("doorbells").isPositive();
        assertThat(nvme.status() & Nvme.CSTS_CFS).as("CSTS.CFS").isZero();

        // Linux configured shadow doorbells (again after the reset), and at depth 16 it seldom rang.
        assertThat(doorbells.shadowConfigurations()).as("Doorbell Buffer Config commands").isGreaterThanOrEqualTo(2);
        assertThat(result.results()).as("dmesg").noneMatch(r -> r.contains("dbbuf"));
        double ringsPerCommand = (double) ringsAtDepth / commandsAtDepth;
        System.out.printf("[nvme] fio qd16 (shared memory %s): %d trapped SQ doorbell writes for %d I/O commands = %.3f per command; %s%n",
                sharedMemory, ringsAtDepth, commandsAtDepth, ringsPerCommand, doorbells);
        assertThat(commandsAtDepth).as("I/O commands during fio qd16").isGreaterThan(1000);
        assertThat(ringsPerCommand).as("trapped SQ doorbell writes per I/O command at depth 16").isLessThan(0.25);
    }

    private static String script() throws Exception {
        try (InputStream in = NvmeGuestTest.class.getResourceAsStream("nvme-guest.sh")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Connects the Java driver to the controller, writes {@code pattern} to namespace 1 at {@code lba}, disconnects. */
    private void writeWithJavaDriver(NvmeDriver.Options driverOptions, byte[] pattern, long lba) throws Exception {
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow());
             NvmeDriver driver = NvmeDriver.open(client, driverOptions)) {
            assertThat(driver.namespace(1).blockSize()).as("namespace 1's block size").isEqualTo(BLOCK_SIZE);
            DmaRegion buffer = driver.allocateBuffer(pattern.length);
            MemorySegment.copy(MemorySegment.ofArray(pattern), 0, buffer.segment(), 0, pattern.length);
            driver.ioQueue().write(1, lba, pattern.length / BLOCK_SIZE, buffer);
        }
    }

    /** Connects the Java driver to the controller, reads {@link #PATTERN_BLOCKS} blocks of namespace 1 at {@code lba}, disconnects. */
    private byte[] readWithJavaDriver(NvmeDriver.Options driverOptions, long lba) throws Exception {
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow());
             NvmeDriver driver = NvmeDriver.open(client, driverOptions)) {
            DmaRegion buffer = driver.allocateBuffer((long) PATTERN_BLOCKS * BLOCK_SIZE);
            driver.ioQueue().read(1, lba, PATTERN_BLOCKS, buffer);
            return buffer.segment().toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** {@link #PATTERN_BLOCKS} blocks from {@code firstLba}, as the script's {@code pattern} makes them. */
    private static byte[] pattern(String writer, long firstLba) {
        StringBuilder blocks = new StringBuilder(PATTERN_BLOCKS * BLOCK_SIZE);
        for (int i = 0; i < PATTERN_BLOCKS; i++) {
            blocks.append("%-511s\n".formatted("jvfio " + writer + " lba " + (firstLba + i)));
        }
        return blocks.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static String block(byte[] bytes, int index) {
        return HexFormat.of().formatHex(bytes, index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE);
    }

    private static String sha256OfZeros(int length) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(new byte[length]));
    }

    private static String sha256(Path file, long offset, int length) throws Exception {
        ByteBuffer bytes = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(file)) {
            while (bytes.hasRemaining() && ch.read(bytes, offset + bytes.position()) > 0) { }
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes.array()));
    }
}
