package io.jvfio.qemu;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How to run a {@link QemuGuest}: machine, memory, CPUs, the initramfs and kernel arguments, vfio-user devices,
 * reboot policy and timeout — a mutable builder, copied when the guest is prepared — and the QEMU command line they
 * make ({@link #qemuArgs}). Get one from {@link QemuGuest#options()}.
 */
public final class GuestOptions {
    /** PCI slot of the first {@link #nvme} controller: fixed, so tests can name its address. */
    static final int FIRST_NVME_SLOT = 4;
    /** PCI slot of the first {@link #hotpluggableVfioUserDevice} device's root port. */
    static final int FIRST_HOTPLUG_PORT_SLOT = 0x10;
    private int memoryMiB = 512;
    private boolean sharedMemory;
    private final List<VfioUserDevice> vfioUserDevices = new ArrayList<>();
    private final List<String> extraArgs = new ArrayList<>();
    private Duration timeout = Duration.ofSeconds(120);
    private boolean allowReboot;
    private int bootsToRun;
    private Path initramfs;
    private String kernelArgs = "";
    private String machine = "q35";
    private String cpu;
    private int cpus = 1;
    private boolean intelIommu;
    private final List<NvmeDrive> nvmeDrives = new ArrayList<>();
    private boolean shareRootfs;
    private List<Path> javaClasspath;

    /** A vfio-user-pci device's socket, and whether it sits behind a root port of its own (hot-pluggable). */
    record VfioUserDevice(Path socket, boolean hotpluggable) {}

    /** A QEMU-emulated NVMe controller on a raw image file (a host path, or relative to the run directory). */
    record NvmeDrive(Path image, String serial) {}

    GuestOptions() {}

    GuestOptions copy() {
        GuestOptions o = new GuestOptions();
        o.memoryMiB = memoryMiB;
        o.sharedMemory = sharedMemory;
        o.vfioUserDevices.addAll(vfioUserDevices);
        o.extraArgs.addAll(extraArgs);
        o.timeout = timeout;
        o.allowReboot = allowReboot;
        o.bootsToRun = bootsToRun;
        o.initramfs = initramfs;
        o.kernelArgs = kernelArgs;
        o.machine = machine;
        o.cpu = cpu;
        o.cpus = cpus;
        o.intelIommu = intelIommu;
        o.nvmeDrives.addAll(nvmeDrives);
        o.shareRootfs = shareRootfs;
        o.javaClasspath = javaClasspath;
        return o;
    }

    /** Guest RAM (default 512). */
    public GuestOptions memoryMiB(int mib) {
        if (mib < 64) throw new IllegalArgumentException("memoryMiB must be at least 64");
        this.memoryMiB = mib;
        return this;
    }

    /**
     * Back guest RAM with a shared memfd ({@code -object memory-backend-memfd,...,share=on} and
     * {@code -machine ...,memory-backend=...}), so vfio-user servers can map it for DMA. Default false.
     */
    public GuestOptions sharedMemory(boolean shared) {
        this.sharedMemory = shared;
        return this;
    }

    /**
     * Adds a {@code vfio-user-pci} device connecting to this UNIX socket. An absolute path must be inside the
     * rootfs; a relative one is resolved against {@link QemuGuest#workDir()}. Repeatable; the server must listen
     * before {@link QemuGuest#launch()}.
     */
    public GuestOptions vfioUserDevice(Path hostSocketPath) {
        vfioUserDevices.add(new VfioUserDevice(Objects.requireNonNull(hostSocketPath), false));
        return this;
    }

    /**
     * Like {@link #vfioUserDevice}, but the device sits behind a PCI Express root port of its own
     * ({@code -device pcie-root-port}, q35), a hot-plug slot: the VMM can unplug it while the guest runs (QEMU
     * does when the device raises its REQ irq), and the guest's pciehp or ACPI hot-plug driver removes it. The
     * n-th such device's port (from 0) is at {@link #hotplugPortAddress}, the device has QEMU id
     * {@code jvfio-hotplug<n>}. Repeatable.
     */
    public GuestOptions hotpluggableVfioUserDevice(Path hostSocketPath) {
        vfioUserDevices.add(new VfioUserDevice(Objects.requireNonNull(hostSocketPath), true));
        return this;
    }

    /** The guest's PCI address of the root port of the n-th {@link #hotpluggableVfioUserDevice} (from 0), e.g. {@code 0000:00:10.0}. */
    public static String hotplugPortAddress(int index) {
        if (index < 0 || FIRST_HOTPLUG_PORT_SLOT + index > 0x1e) throw new IllegalArgumentException("no slot for hot-plug port " + index);
        return String.format("0000:00:%02x.0", FIRST_HOTPLUG_PORT_SLOT + index);
    }

    /** Extra QEMU arguments, appended last. Repeatable. */
    public GuestOptions extraArgs(String... args) {
        extraArgs.addAll(List.of(args));
        return this;
    }

    /** How long after launch {@link QemuGuest#awaitExit()} waits before killing QEMU (default 120 s). */
    public GuestOptions timeout(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive");
        this.timeout = timeout;
        return this;
    }

    /** Let a guest reboot restart the guest (default false: {@code -no-reboot}, a reboot ends QEMU). */
    public GuestOptions allowReboot(boolean allow) {
        this.allowReboot = allow;
        return this;
    }

    /**
     * The harness stops QEMU once the n-th boot printed its verdict, or when an (n+1)-th boot starts.
     * 0 (default): no limit.
     */
    public GuestOptions bootsToRun(int n) {
        if (n < 0) throw new IllegalArgumentException("bootsToRun must be >= 0");
        this.bootsToRun = n;
        return this;
    }

    /** The initramfs to boot (required). */
    public GuestOptions initramfs(Path initramfs) {
        this.initramfs = initramfs.toAbsolutePath();
        return this;
    }

    /** The initramfs to boot (required). */
    public GuestOptions initramfs(Initramfs initramfs) {
        return initramfs(initramfs.path());
    }

    /** Appends to the kernel command line ({@value QemuGuest#DEFAULT_KERNEL_ARGS}). Repeatable. */
    public GuestOptions appendKernelArgs(String args) {
        this.kernelArgs = (kernelArgs + " " + args).strip();
        return this;
    }

    /** The machine type (default {@code q35}). */
    public GuestOptions machine(String machine) {
        this.machine = Objects.requireNonNull(machine);
        return this;
    }

    /** The CPU model (default: QEMU's default for TCG). */
    public GuestOptions cpu(String cpu) {
        this.cpu = cpu;
        return this;
    }

    /** Number of vCPUs (default 1). */
    public GuestOptions cpus(int cpus) {
        if (cpus < 1) throw new IllegalArgumentException("cpus must be >= 1");
        this.cpus = cpus;
        return this;
    }

    /**
     * An emulated Intel IOMMU ({@code -device intel-iommu,caching-mode=on}) that translates every PCI device's DMA,
     * and {@code intel_iommu=on} on the kernel command line, so a guest can bind devices to vfio-pci with real
     * IOMMU groups. Caching mode makes the guest report every mapping, which QEMU needs for devices whose DMA it
     * forwards (vfio-pci, vfio-user-pci). Needs the q35 machine. Default false.
     */
    public GuestOptions intelIommu(boolean on) {
        this.intelIommu = on;
        return this;
    }

    /**
     * Adds a QEMU-emulated NVMe controller ({@code -device nvme}) on a raw image file, which must exist. An absolute
     * path must be inside the rootfs; a relative one is resolved against {@link QemuGuest#workDir()}. The n-th
     * controller (from 0) sits at PCI address {@code 0000:00:(4+n).0} ({@link #nvmeAddress}). Repeatable.
     */
    public GuestOptions nvme(Path image, String serial) {
        if (serial.isBlank() || serial.length() > 20 || !serial.chars().allMatch(c -> c > ' ' && c < 0x7f && c != ',')) {
            throw new IllegalArgumentException("an NVMe serial is 1-20 printable ASCII characters without ',': " + serial);
        }
        nvmeDrives.add(new NvmeDrive(Objects.requireNonNull(image), serial));
        return this;
    }

    /** The guest's PCI address of the n-th {@link #nvme} controller (from 0), e.g. {@code 0000:00:04.0}. */
    public static String nvmeAddress(int index) {
        if (index < 0 || FIRST_NVME_SLOT + index > 0x1e) throw new IllegalArgumentException("no slot for NVMe controller " + index);
        return String.format("0000:00:%02x.0", FIRST_NVME_SLOT + index);
    }

    /**
     * Exports the rootfs read-only over 9p ({@code virtio-9p-pci}, mount tag {@value GuestJava#MOUNT_TAG}), so the
     * guest can run its programs (a JDK, glibc) in a chroot. Default false; {@link #java} turns it on.
     */
    public GuestOptions shareRootfs(boolean share) {
        this.shareRootfs = share;
        return this;
    }

    /**
     * Lets the guest run Java: shares the rootfs ({@link #shareRootfs}) and, at {@link QemuGuest#launch()}, puts this
     * JVM's JDK into the rootfs (once, cached) and these class path entries (jars and class directories, hard-linked
     * or copied) into the run directory. The initramfs needs {@link Initramfs.Builder#java()}, whose
     * {@value GuestJava#LAUNCHER} runs them. Pass {@link #currentClasspath()} to run mains of the calling test's
     * class path.
     */
    public GuestOptions java(List<Path> classpath) {
        this.javaClasspath = List.copyOf(classpath);
        this.shareRootfs = true;
        return this;
    }

    /** This JVM's class path entries ({@code java.class.path}), for {@link #java}. */
    public static List<Path> currentClasspath() {
        List<Path> entries = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!e.isBlank()) entries.add(Path.of(e));
        }
        return entries;
    }

    /** The class path to stage for the guest's Java, null if the guest runs none. */
    List<Path> javaClasspath() {
        return javaClasspath;
    }

    /** The initramfs to boot, null until set. */
    Path initramfs() {
        return initramfs;
    }

    /** Boots after which the harness stops QEMU; 0 for no limit. */
    int bootsToRun() {
        return bootsToRun;
    }

    /** How long after launch the harness waits for QEMU to exit. */
    Duration timeout() {
        return timeout;
    }

    /**
     * The full QEMU argument list (the part after {@code chroot <rootfs>}) for a run in {@code workDir}.
     *
     * @throws IllegalArgumentException if a vfio-user socket path is too long for a UNIX socket
     */
    List<String> qemuArgs(GuestToolchain tc, Path workDir) {
        String run = tc.toChrootPath(workDir);
        List<String> a = new ArrayList<>();
        a.add(GuestToolchain.QEMU_IN_CHROOT);
        a.addAll(List.of("-name", "jvfio-" + workDir.getFileName(), "-no-user-config", "-nodefaults",
                "-display", "none", "-monitor", "none", "-serial", "stdio", "-accel", "tcg",
                "-run-with", "exit-with-parent=on"));
        String machineArg = machine;
        if (sharedMemory) {
            a.addAll(List.of("-object", "memory-backend-memfd,id=jvfio-ram,size=" + memoryMiB + "M,share=on"));
            machineArg += ",memory-backend=jvfio-ram";
        }
        a.addAll(List.of("-machine", machineArg, "-m", memoryMiB + "M", "-smp", Integer.toString(cpus)));
        if (cpu != null) a.addAll(List.of("-cpu", cpu));
        a.addAll(List.of("-kernel", run + "/vmlinuz", "-initrd", run + "/initramfs.img"));
        String append = QemuGuest.DEFAULT_KERNEL_ARGS + " jvfio.boot=ask " + Initramfs.RUN_DIR_ARG + run
                + (intelIommu ? " intel_iommu=on" : "") + (kernelArgs.isBlank() ? "" : " " + kernelArgs.strip());
        a.addAll(List.of("-append", append));
        if (!allowReboot) a.add("-no-reboot");
        if (intelIommu) a.addAll(List.of("-device", "intel-iommu,caching-mode=on"));
        // Devices with fixed addresses come before those QEMU places itself, which would take the first free slots.
        for (int i = 0; i < nvmeDrives.size(); i++) {
            NvmeDrive d = nvmeDrives.get(i);
            String drive = "jvfio-nvme" + i;
            Path image = d.image().isAbsolute() ? d.image() : workDir.resolve(d.image());
            a.addAll(List.of("-drive", "file=" + qemuOptionValue(tc.toChrootPath(image)) + ",if=none,format=raw,id=" + drive,
                    "-device", "nvme,serial=" + d.serial() + ",drive=" + drive
                            + ",addr=" + Integer.toHexString(FIRST_NVME_SLOT + i) + ".0"));
        }
        if (shareRootfs) {
            a.addAll(List.of("-fsdev", "local,id=jvfio-rootfs,path=/,security_model=none,readonly=on",
                    "-device", "virtio-9p-pci,fsdev=jvfio-rootfs,mount_tag=" + GuestJava.MOUNT_TAG));
        }
        int hotplugPorts = 0;
        for (VfioUserDevice device : vfioUserDevices) {
            Path sock = device.socket();
            Path host = sock.isAbsolute() ? sock : workDir.resolve(sock);
            String guestPath = tc.toChrootPath(host);
            if (host.toString().getBytes(StandardCharsets.UTF_8).length >= 108) {
                throw new IllegalArgumentException("UNIX socket path too long (>= 108 bytes): " + host);
            }
            String placement = "";
            if (device.hotpluggable()) {
                int n = hotplugPorts++;
                hotplugPortAddress(n); // checks there is a slot
                String port = "jvfio-port" + n;
                a.addAll(List.of("-device", "pcie-root-port,id=" + port + ",chassis=" + (n + 1) + ",slot=" + (n + 1)
                        + ",addr=" + Integer.toHexString(FIRST_HOTPLUG_PORT_SLOT + n) + ".0"));
                placement = ",\"bus\":\"" + port + "\",\"id\":\"jvfio-hotplug" + n + "\"";
            }
            a.addAll(List.of("-device", "{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":" + jsonString(guestPath)
                    + ",\"type\":\"unix\"}" + placement + "}"));
        }
        a.addAll(extraArgs);
        return a;
    }

    /** A value in a QEMU {@code key=value,...} option: commas are doubled. */
    private static String qemuOptionValue(String s) {
        return s.replace(",", ",,");
    }

    private static String jsonString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
