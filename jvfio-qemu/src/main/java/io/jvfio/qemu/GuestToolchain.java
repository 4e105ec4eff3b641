package io.jvfio.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Locates and validates the toolchain that {@code scripts/provision-guest.sh} provisions into
 * {@code ${JVFIO_CACHE:-$HOME/.cache/jvfio}}:
 * <pre>
 *   rootfs/                  a Debian trixie chroot with qemu-system-x86_64 (11.1 from trixie-backports)
 *   guest/vmlinuz            the Debian guest kernel
 *   guest/kernel-release     its release string, e.g. 6.12.117+deb13-amd64
 *   guest/tree/usr/lib/modules/&lt;release&gt;/kernel/**.ko.xz   its modules (no modules.dep)
 *   guest/tree/usr/bin/busybox                             busybox-static
 * </pre>
 * QEMU runs as {@code chroot <rootfs> qemu-system-x86_64 ...}, which needs root.
 */
public final class GuestToolchain {

    /** The environment variable naming the cache directory. */
    public static final String CACHE_ENV = "JVFIO_CACHE";
    static final String QEMU_IN_CHROOT = "/usr/bin/qemu-system-x86_64";
    private static final String PROVISION_HINT =
            "Run scripts/provision-guest.sh (as root) to provision the guest toolchain";

    private final Path cache;
    private final Path rootfs;
    private final Path kernel;
    private final String kernelRelease;
    private final Path modulesDir;
    private final Path busybox;
    private volatile String qemuVersion;

    private GuestToolchain(Path cache, Path rootfs, Path kernel, String kernelRelease, Path modulesDir, Path busybox) {
        this.cache = cache;
        this.rootfs = rootfs;
        this.kernel = kernel;
        this.kernelRelease = kernelRelease;
        this.modulesDir = modulesDir;
        this.busybox = busybox;
    }

    /** The cache directory: {@code $JVFIO_CACHE}, else {@code ~/.cache/jvfio}. */
    public static Path defaultCacheDir() {
        String env = System.getenv(CACHE_ENV);
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath().normalize();
        }
        return Path.of(System.getProperty("user.home"), ".cache", "jvfio").toAbsolutePath().normalize();
    }

    /** Locates the toolchain in {@link #defaultCacheDir()}. */
    public static GuestToolchain locate() throws IOException {
        return locate(defaultCacheDir());
    }

    /**
     * Locates and validates the toolchain under {@code cacheDir}.
     *
     * @throws IOException naming what is missing and {@code scripts/provision-guest.sh}
     */
    public static GuestToolchain locate(Path cacheDir) throws IOException {
        Path cache = cacheDir.toAbsolutePath().normalize();
        List<String> missing = new ArrayList<>();
        Path rootfs = cache.resolve("rootfs");
        Path guest = cache.resolve("guest");
        Path busybox = guest.resolve("tree/usr/bin/busybox");
        if (!Files.isDirectory(cache)) {
            throw new IOException("No jvfio guest toolchain: " + cache + " does not exist. " + PROVISION_HINT
                    + " (or set " + CACHE_ENV + " to where it was provisioned).");
        }
        if (!Files.isExecutable(rootfs.resolve(QEMU_IN_CHROOT.substring(1)))) {
            missing.add(rootfs.resolve(QEMU_IN_CHROOT.substring(1)) + " (QEMU in the chroot)");
        }
        if (!Files.isRegularFile(busybox)) missing.add(busybox + " (busybox-static)");
        GuestKernel kernel = GuestKernel.find(guest, missing);
        if (!missing.isEmpty()) {
            throw new IOException("Incomplete jvfio guest toolchain in " + cache + "; missing: "
                    + String.join(", ", missing) + ". " + PROVISION_HINT + ".");
        }
        return new GuestToolchain(cache, rootfs, kernel.image(), kernel.release(), kernel.modulesDir(), busybox);
    }

    /**
     * This toolchain with another guest kernel, laid out as {@code guest/} is: {@code vmlinuz}, {@code kernel-release}
     * and {@code tree/usr/lib/modules/<release>/} — e.g. {@code kernel-6.12.117-1/} (or its link {@code kernel-vfio})
     * from {@code scripts/build-guest-kernel.sh}, with IOMMUFD and VFIO_NOIOMMU. A relative directory is resolved
     * against the cache directory.
     *
     * @throws IOException naming what is missing and the script
     */
    public GuestToolchain withKernel(Path kernelDir) throws IOException {
        Path dir = cache.resolve(kernelDir).normalize();
        List<String> missing = new ArrayList<>();
        GuestKernel kernel = GuestKernel.find(dir, missing);
        if (!missing.isEmpty()) {
            throw new IOException("Incomplete guest kernel in " + dir + "; missing: " + String.join(", ", missing)
                    + ". Build one with scripts/build-guest-kernel.sh (as root).");
        }
        return new GuestToolchain(cache, rootfs, kernel.image(), kernel.release(), kernel.modulesDir(), busybox);
    }

    /** A guest kernel's image, release string and modules directory (host paths). */
    private record GuestKernel(Path image, String release, Path modulesDir) {
        /** Finds the kernel in {@code dir}, adding what is missing to {@code missing}. */
        static GuestKernel find(Path dir, List<String> missing) throws IOException {
            Path image = dir.resolve("vmlinuz");
            Path releaseFile = dir.resolve("kernel-release");
            if (!Files.isRegularFile(image)) missing.add(image + " (guest kernel)");
            if (!Files.isRegularFile(releaseFile)) {
                missing.add(releaseFile + " (guest kernel release)");
                return new GuestKernel(image, null, null);
            }
            String release = Files.readString(releaseFile, StandardCharsets.UTF_8).strip();
            Path modulesDir = dir.resolve("tree/usr/lib/modules").resolve(release);
            if (release.isEmpty() || !Files.isDirectory(modulesDir.resolve("kernel"))) {
                missing.add(modulesDir.resolve("kernel") + " (guest kernel modules)");
            }
            return new GuestKernel(image, release, modulesDir);
        }
    }

    /**
     * Whether guest tests can run here: the toolchain is provisioned and we are root (chroot needs it).
     * Never throws.
     */
    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Why {@link #isAvailable()} is false, or {@code null} when it is true. */
    public static String unavailableReason() {
        try {
            locate();
        } catch (IOException | RuntimeException e) {
            return e.getMessage();
        }
        if (!isRoot()) {
            return "the guest harness runs QEMU via chroot(8), which needs root";
        }
        return null;
    }

    private static boolean isRoot() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return uid instanceof Integer i && i == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** The cache directory this toolchain lives in. */
    public Path cacheDir() { return cache; }

    /** The Debian chroot holding QEMU (host path). */
    public Path rootfs() { return rootfs; }

    /** The guest kernel image (host path). */
    public Path kernel() { return kernel; }

    /** The guest kernel's release string, e.g. {@code 6.12.117+deb13-amd64}. */
    public String kernelRelease() { return kernelRelease; }

    /** {@code .../guest/tree/usr/lib/modules/<release>} (host path). */
    public Path modulesDir() { return modulesDir; }

    /** The static busybox binary for the guest (host path). */
    public Path busybox() { return busybox; }

    /** Where per-run directories live: {@code <rootfs>/run/jvfio} (host path). */
    public Path runRoot() { return rootfs.resolve("run/jvfio"); }

    /**
     * Translates a host path inside the rootfs to the path QEMU (in the chroot) sees.
     *
     * @throws IllegalArgumentException if the path is not inside the rootfs
     */
    public String toChrootPath(Path hostPath) {
        Path p = hostPath.toAbsolutePath().normalize();
        if (!p.startsWith(rootfs)) {
            throw new IllegalArgumentException(hostPath + " is not inside the QEMU chroot " + rootfs
                    + "; QEMU cannot reach it (put it in QemuGuest.workDir())");
        }
        return "/" + rootfs.relativize(p).toString();
    }

    /** QEMU's version, e.g. {@code 11.1.3}, from {@code qemu-system-x86_64 --version} in the chroot. */
    public String qemuVersion() throws IOException {
        String v = qemuVersion;
        if (v != null) return v;
        Process p = new ProcessBuilder(chrootCommand(List.of(QEMU_IN_CHROOT, "--version")))
                .redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("qemu-system-x86_64 --version did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        }
        Matcher m = Pattern.compile("QEMU emulator version (\\S+)").matcher(out);
        if (p.exitValue() != 0 || !m.find()) {
            throw new IOException("Cannot run QEMU in " + rootfs + " (exit " + p.exitValue() + "): " + out.strip());
        }
        v = m.group(1);
        qemuVersion = v;
        return v;
    }

    /** The shared libraries (and loader) a rootfs program needs, as absolute rootfs paths, from {@code ldd} in the chroot. */
    public List<String> sharedLibraries(String program) throws IOException {
        Process p = new ProcessBuilder(chrootCommand(List.of("/usr/bin/ldd", program))).redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("ldd " + program + " in " + rootfs + " failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running ldd", e);
        }
        List<String> libs = new ArrayList<>();
        for (String line : out.split("\n")) {
            String l = line.strip();
            int arrow = l.indexOf("=> ");
            String path = arrow >= 0 ? l.substring(arrow + 3) : l;
            int paren = path.indexOf(" (");
            if (paren > 0) path = path.substring(0, paren);
            if (path.startsWith("/")) libs.add(path);
        }
        return libs;
    }

    /** {@code chroot <rootfs> <command...>} with a clean environment (a fixed PATH, LANG=C.UTF-8). */
    public List<String> chrootCommand(List<String> command) {
        List<String> cmd = new ArrayList<>();
        cmd.add("chroot");
        cmd.add(rootfs.toString());
        cmd.add("/usr/bin/env");
        cmd.add("-i");
        cmd.add("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
        cmd.add("LANG=C.UTF-8");
        cmd.addAll(command);
        return cmd;
    }

    @Override
    public String toString() {
        return "GuestToolchain[" + cache + ", kernel " + kernelRelease + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GuestToolchain t && t.cache.equals(cache) && t.kernel.equals(kernel);
    }

    @Override
    public int hashCode() { return Objects.hash(cache, kernel); }
}
