package io.jvfio.cli.scenarios;

import io.jvfio.devices.virtio.NotifyMode;
import io.jvfio.devices.virtio.VirtioBlk;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.qemu.VirtioBlkInitramfs;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The Java virtio-blk disk served to a real Linux guest: jvfio serves a {@link VirtioBlk} over a
 * raw image inside the guest toolchain's chroot, QEMU boots a Debian kernel whose virtio_blk
 * driver binds to it, and the guest script ({@code virtio-blk-guest.sh}) makes an ext4 file
 * system, writes files, syncs, and (after a reboot) checks them. The host side then checks the
 * image itself with e2fsprogs: the bytes are in the file, not just in the guest's memory.
 */
public final class VirtioBlkGuestScenario implements AutoCloseable {
    public static final long DISK_BYTES = 256L << 20;

    private final GuestToolchain toolchain;
    private final Path dir;
    private final Path image;
    private final Initramfs initramfs;
    private final VirtioBlk disk;
    private final VfioUserServer server;
    private final Consumer<String> log;

    public VirtioBlkGuestScenario(GuestToolchain toolchain, Consumer<String> log) throws IOException {
        this(toolchain, log, NotifyMode.TRAPPED);
    }

    public VirtioBlkGuestScenario(GuestToolchain toolchain, Consumer<String> log, NotifyMode notifyMode) throws IOException {
        this.toolchain = toolchain;
        this.log = log;
        this.dir = Files.createDirectories(toolchain.runRoot()
                .resolve("virtio-blk-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
        this.image = dir.resolve("disk.img");
        this.initramfs = VirtioBlkInitramfs.builder(toolchain, guestScript()).build(dir.resolve("initramfs.img"));
        this.disk = VirtioBlk.builder(image).create(DISK_BYTES).serial("jvfio-guest-disk").notifyMode(notifyMode).build();
        this.server = VfioUserServer.bind(dir.resolve("blk.sock"), disk, ServerOptions.defaults());
        server.start();
    }

    private static String guestScript() throws IOException {
        try (InputStream in = VirtioBlkGuestScenario.class.getResourceAsStream("virtio-blk-guest.sh")) {
            if (in == null) {
                throw new IOException("virtio-blk-guest.sh is missing from the jvfio-cli jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    public VirtioBlk disk() {
        return disk;
    }

    public VfioUserServer server() {
        return server;
    }

    public Path image() {
        return image;
    }

    /** Options for a guest attached to this scenario's disk. */
    public GuestOptions guestOptions(boolean sharedMemory) {
        return QemuGuest.options()
                .initramfs(initramfs.path())
                .sharedMemory(sharedMemory)
                .vfioUserDevice(server.socketPath().orElseThrow())
                .timeout(Duration.ofSeconds(240));
    }

    /** Launches a prepared guest and waits for QEMU to exit. */
    public GuestResult run(QemuGuest guest) throws IOException, InterruptedException {
        guest.launch();
        return guest.awaitExit();
    }

    /**
     * Launches a guest started with {@code jvfio.blk=kill}; the moment its {@code sync} has
     * returned, closes the server (the device's socket and session go at once), then kills QEMU.
     * Returns the console; the image is then as the guest's sync left it.
     */
    public GuestResult runAndKillServerAfterSync(QemuGuest guest) throws IOException, InterruptedException {
        guest.launch();
        boolean synced = guest.awaitConsoleLine(l -> l.contains("JVFIO-RESULT: synced"), Duration.ofSeconds(200));
        if (synced) {
            server.close();
            log.accept("guest's sync returned: server closed");
        }
        guest.kill();
        return guest.awaitExit();
    }

    /** The SHA-256 sums the guest printed: file name → hex sum. */
    public static Map<String, String> guestSums(GuestResult result) {
        Map<String, String> sums = new LinkedHashMap<>();
        for (String r : result.results()) {
            String[] parts = r.split("\\s+");
            if (parts.length == 3 && parts[0].equals("sha256")) {
                sums.put(parts[1], parts[2]);
            }
        }
        return sums;
    }

    // ---------------------------------------------------------------- host-side checks of the image

    /** A host command's exit status and output. */
    public record HostRun(int exitCode, String output) {}

    /** Runs a host program (e2fsprogs) and collects its output. */
    public static HostRun host(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + command);
        }
        return new HostRun(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** {@code e2fsck -fn image}: a read-only full check; exit 0 means clean. */
    public static HostRun e2fsck(Path image) throws IOException, InterruptedException {
        return host(List.of(tool("e2fsck"), "-fn", image.toString()));
    }

    /** {@code e2fsck -fy} on a copy: replays the journal as a mount would, and repairs nothing else if clean. */
    public static HostRun recoverCopy(Path image, Path copy) throws IOException, InterruptedException {
        Files.copy(image, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return host(List.of(tool("e2fsck"), "-fy", copy.toString()));
    }

    public static HostRun debugfs(Path image, String request) throws IOException, InterruptedException {
        return host(List.of(tool("debugfs"), "-R", request, image.toString()));
    }

    /** SHA-256 of each named file read out of the image's file system with debugfs. */
    public static Map<String, String> imageSums(Path image, Iterable<String> names, Path scratch)
            throws IOException, InterruptedException {
        Map<String, String> sums = new LinkedHashMap<>();
        for (String name : names) {
            Path out = scratch.resolve("dump-" + name);
            Files.deleteIfExists(out);
            debugfs(image, "dump /" + name + " " + out);
            sums.put(name, Files.exists(out) ? sha256(out) : "missing");
            Files.deleteIfExists(out);
        }
        return sums;
    }

    private static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String tool(String name) {
        for (String d : new String[] {"/usr/sbin", "/sbin", "/usr/bin"}) {
            if (Files.isExecutable(Path.of(d, name))) {
                return d + "/" + name;
            }
        }
        return name;
    }

    /** A scratch directory beside the image. */
    public Path scratch() {
        return dir;
    }

    @Override
    public void close() {
        server.close();
        disk.shutdown();
        try (var files = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(files.toList());
            all.sort(java.util.Comparator.reverseOrder());
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
