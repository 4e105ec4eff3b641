package io.jvfio.qemu;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.GZIPOutputStream;

/**
 * A busybox initramfs (newc cpio, gzip'd by default, written in Java) with chosen kernel modules, their
 * dependencies, and a test script.
 *
 * <p>Guest layout: {@code /bin/busybox}, {@code /init}, {@code /jvfio/test.sh} (the script),
 * {@code /jvfio/modules.load} (load order: a module's path, then its parameters if any),
 * {@code /lib/modules/<release>/kernel/...ko} (decompressed) with a {@code modules.dep} for them (so busybox
 * {@code modprobe} works for the included modules), plus extra files.
 *
 * <p>{@code /init} mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /tmp (tmpfs) and debugfs on /sys/kernel/debug,
 * installs the busybox applets, insmods the modules in dependency order (a failure ends the boot with
 * {@code JVFIO-VERDICT: FAIL module <path>}), prints {@code JVFIO-BOOT <n>}, runs {@code sh /jvfio/test.sh} and
 * prints {@code JVFIO-VERDICT: PASS} if it exited 0, else {@code JVFIO-VERDICT: FAIL <code>}, then
 * {@code poweroff -f}. The script sees {@code $JVFIO_BOOT} (the boot number, see {@link QemuGuest}) and
 * {@code $JVFIO_RUN} (the run directory, {@link QemuGuest#workDir()}, as a path in the rootfs).
 */
public final class Initramfs {

    /** Printed by /init when the modules are loaded and the script is about to run: {@code JVFIO-BOOT <n>}. */
    public static final String BOOT_MARKER = "JVFIO-BOOT ";
    /** Printed by /init (only with kernel arg {@code jvfio.boot=ask}) to ask the harness for the boot number. */
    public static final String BOOT_ASK = "JVFIO-BOOT-ASK";
    /** Prefix of the verdict line: {@code JVFIO-VERDICT: PASS} or {@code JVFIO-VERDICT: FAIL <code>}. */
    public static final String VERDICT_MARKER = "JVFIO-VERDICT: ";
    /** Prefix of result lines a script prints: {@code JVFIO-RESULT: <text>}. */
    public static final String RESULT_MARKER = "JVFIO-RESULT: ";
    /** The kernel argument naming the run directory as QEMU sees it; /init exports it as {@code $JVFIO_RUN}. */
    static final String RUN_DIR_ARG = "jvfio.run=";

    private final Path path;
    private final List<String> modules;

    private Initramfs(Path path, List<String> modules) {
        this.path = path;
        this.modules = modules;
    }

    public static Builder builder(GuestToolchain tc) {
        return new Builder(Objects.requireNonNull(tc));
    }

    /** Where the archive was written. */
    public Path path() { return path; }

    /** The modules /init loads, in load order (canonical names, '_' spelling). */
    public List<String> modules() { return modules; }

    @Override
    public String toString() { return "Initramfs[" + path + ", modules=" + modules + "]"; }

    /** The /init script (busybox sh). */
    static String initScript(String kernelRelease) {
        return """
                #!/bin/busybox sh
                # jvfio guest /init: mount, load modules, run /jvfio/test.sh, print the verdict, power off.
                /bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /sbin /usr/bin /usr/sbin
                /bin/busybox --install -s
                export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=dumb
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev 2>/dev/null
                exec 0</dev/console 1>/dev/console 2>&1
                mkdir -p /dev/pts /dev/shm
                mount -t devpts devpts /dev/pts 2>/dev/null
                mount -t tmpfs tmpfs /tmp
                mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
                echo 1 > /proc/sys/kernel/printk_ratelimit 2>/dev/null
                jvfio_end() {
                    echo "JVFIO-VERDICT: $1"
                    sync
                    poweroff -f
                    while :; do sleep 1; done
                }
                while read -r m parameters; do
                    [ -n "$m" ] || continue
                    insmod "/lib/modules/@RELEASE@/$m" $parameters || jvfio_end "FAIL module $m"
                done < /jvfio/modules.load
                JVFIO_BOOT=1
                case " $(cat /proc/cmdline) " in
                *" jvfio.boot=ask "*)
                    stty -echo 2>/dev/null
                    echo "JVFIO-BOOT-ASK"
                    if read -t 60 n; then
                        case "$n" in ''|*[!0-9]*) ;; *) JVFIO_BOOT=$n ;; esac
                    fi
                    stty echo 2>/dev/null
                    ;;
                esac
                export JVFIO_BOOT
                for a in $(cat /proc/cmdline); do
                    case "$a" in jvfio.run=*) JVFIO_RUN=${a#jvfio.run=}; export JVFIO_RUN ;; esac
                done
                echo "JVFIO-BOOT $JVFIO_BOOT"
                cd /
                sh /jvfio/test.sh
                rc=$?
                if [ "$rc" -eq 0 ]; then jvfio_end PASS; else jvfio_end "FAIL $rc"; fi
                """.replace("@RELEASE@", kernelRelease);
    }

    /** Builds an initramfs. Not thread-safe; reusable. */
    public static final class Builder {
        private final GuestToolchain tc;
        private final List<String> modules = new ArrayList<>();
        private final List<String> optionalModules = new ArrayList<>();
        /** Module parameters by canonical module name ('_' spelling). */
        private final Map<String, String> moduleParameters = new LinkedHashMap<>();
        private final Map<String, byte[]> files = new LinkedHashMap<>();
        private final Map<String, Integer> modes = new LinkedHashMap<>();
        private final Map<String, String> symlinks = new LinkedHashMap<>();
        private String script = "true\n";
        private boolean gzip = true;

        private Builder(GuestToolchain tc) {
            this.tc = tc;
        }

        /**
         * Kernel modules to load (names as in {@code modinfo}; '-' and '_' are equivalent). Their dependencies
         * are added and loaded first; built-in modules are skipped. Repeatable.
         */
        public Builder modules(String... names) {
            for (String n : names) modules.add(Objects.requireNonNull(n));
            return this;
        }

        /**
         * Kernel modules to load if the guest kernel has them as modules, like {@link #modules}; names it lacks
         * or has built in are skipped (e.g. {@code iommufd}, which Debian's 6.12 does not build). Repeatable.
         */
        public Builder optionalModules(String... names) {
            for (String n : names) optionalModules.add(Objects.requireNonNull(n));
            return this;
        }

        /**
         * Parameters /init passes to a module's insmod, e.g. {@code ("nvme", "poll_queues=1")}: it loads
         * modules with insmod, which does not read the kernel command line's {@code module.parameter=}.
         * The module must be one of {@link #modules} or their dependencies ({@link #build} checks).
         */
        public Builder moduleParameters(String name, String parameters) {
            moduleParameters.put(KernelModules.canonical(name), Objects.requireNonNull(parameters));
            return this;
        }

        /**
         * Java in the guest: the 9p modules and {@value GuestJava#LAUNCHER} ({@code jvfio-java [java options] class
         * [args]}), which mounts the rootfs shared by {@link GuestOptions#java} and runs this JVM's JDK with the
         * staged class path in a chroot there.
         */
        public Builder java() {
            modules(GuestJava.MODULES);
            return file(GuestJava.LAUNCHER, GuestJava.launcherScript(), 0755);
        }

        /** The test script, run by /init with busybox {@code sh}; exit status 0 means PASS. */
        public Builder script(String shellScript) {
            this.script = Objects.requireNonNull(shellScript);
            return this;
        }

        /** An extra file at an absolute guest path (parent directories are created), with permission bits. */
        public Builder file(String guestPath, byte[] content, int mode) {
            String p = guestPath(guestPath);
            files.put(p, content.clone());
            modes.put(p, mode & 07777);
            return this;
        }

        /** An extra text file (UTF-8). */
        public Builder file(String guestPath, String content, int mode) {
            return file(guestPath, content.getBytes(StandardCharsets.UTF_8), mode);
        }

        /** An extra symbolic link. */
        public Builder symlink(String guestPath, String target) {
            symlinks.put(guestPath(guestPath), Objects.requireNonNull(target));
            return this;
        }

        /**
         * A dynamically linked program from the rootfs (e.g. {@code /usr/bin/lspci}), with the shared
         * libraries and loader {@code ldd} names for it inside the chroot, at the same paths.
         */
        public Builder program(String rootfsPath) throws IOException {
            copyFromRootfs(rootfsPath, 0755);
            for (String lib : tc.sharedLibraries(rootfsPath)) {
                copyFromRootfs(lib, 0755);
            }
            return this;
        }

        /** A file copied from the rootfs to the same path in the guest (e.g. {@code /usr/share/misc/pci.ids}). */
        public Builder rootfsFile(String rootfsPath) throws IOException {
            return copyFromRootfs(rootfsPath, 0644);
        }

        private Builder copyFromRootfs(String rootfsPath, int mode) throws IOException {
            Path host = tc.rootfs().resolve(guestPath(rootfsPath));
            return file(rootfsPath, Files.readAllBytes(host.toRealPath()), mode);
        }

        /** Whether to gzip the cpio (default true; the kernel accepts both). */
        public Builder gzip(boolean gzip) {
            this.gzip = gzip;
            return this;
        }

        private static String guestPath(String p) {
            if (!p.startsWith("/") || p.contains("/../") || p.endsWith("/..") || p.equals("/")) {
                throw new IllegalArgumentException("guest path must be absolute and normalized: " + p);
            }
            return NewcCpioWriter.normalize(p);
        }

        /** Resolves modules, writes the archive to {@code out} (atomically), and describes it. */
        public Initramfs build(Path out) throws IOException {
            String release = tc.kernelRelease();
            List<KernelModules.Module> resolved = List.of();
            if (!modules.isEmpty() || !optionalModules.isEmpty()) {
                KernelModules index = KernelModules.index(tc.modulesDir());
                List<String> wanted = new ArrayList<>(modules);
                for (String name : optionalModules) {
                    if (index.exists(name)) wanted.add(name);
                }
                resolved = index.resolve(wanted);
            }

            Map<String, byte[]> content = new LinkedHashMap<>();
            Map<String, Integer> perms = new LinkedHashMap<>();
            content.put("bin/busybox", Files.readAllBytes(tc.busybox()));
            perms.put("bin/busybox", 0755);
            content.put("init", initScript(release).getBytes(StandardCharsets.UTF_8));
            perms.put("init", 0755);
            content.put("jvfio/test.sh", script.getBytes(StandardCharsets.UTF_8));
            perms.put("jvfio/test.sh", 0755);

            String modBase = "lib/modules/" + release + "/";
            StringBuilder load = new StringBuilder();
            StringBuilder dep = new StringBuilder();
            Map<String, KernelModules.Module> byName = new LinkedHashMap<>();
            for (KernelModules.Module m : resolved) byName.put(m.name(), m);
            for (String name : moduleParameters.keySet()) {
                if (!byName.containsKey(name)) {
                    throw new IllegalArgumentException("parameters for module " + name + ", which is not loaded");
                }
            }
            for (KernelModules.Module m : resolved) {
                content.put(modBase + m.relPath(), m.image());
                perms.put(modBase + m.relPath(), 0644);
                load.append(m.relPath());
                String parameters = moduleParameters.get(m.name());
                if (parameters != null) {
                    load.append(' ').append(parameters);
                }
                load.append('\n');
                Set<String> deps = new LinkedHashSet<>();
                transitiveDeps(m, byName, deps);
                dep.append(m.relPath()).append(':');
                for (String d : deps) dep.append(' ').append(d);
                dep.append('\n');
            }
            content.put("jvfio/modules.load", load.toString().getBytes(StandardCharsets.UTF_8));
            perms.put("jvfio/modules.load", 0644);
            content.put(modBase + "modules.dep", dep.toString().getBytes(StandardCharsets.UTF_8));
            perms.put(modBase + "modules.dep", 0644);
            content.putAll(files);
            perms.putAll(modes);
            Map<String, String> links = new LinkedHashMap<>(symlinks);
            links.keySet().removeAll(content.keySet());

            TreeSet<String> dirs = new TreeSet<>(List.of("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc",
                    "sys", "tmp", "run", "root", "etc", "lib", "jvfio"));
            for (String f : content.keySet()) addParents(f, dirs);
            for (String f : links.keySet()) addParents(f, dirs);
            dirs.removeAll(content.keySet());
            dirs.removeAll(links.keySet());

            Path dir = out.toAbsolutePath().getParent();
            if (dir != null) Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".initramfs-", ".tmp");
            try {
                try (OutputStream raw = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
                     OutputStream os = gzip ? new GZIPOutputStream(raw, 1 << 16) : raw;
                     NewcCpioWriter cpio = new NewcCpioWriter(os)) {
                    for (String d : dirs) cpio.directory(d, 0755);
                    cpio.charDevice("dev/console", 0600, 5, 1);
                    cpio.charDevice("dev/null", 0666, 1, 3);
                    for (var e : content.entrySet()) {
                        if (e.getKey().equals("dev/console") || e.getKey().equals("dev/null")) continue;
                        cpio.file(e.getKey(), e.getValue(), perms.getOrDefault(e.getKey(), 0644));
                    }
                    for (var e : links.entrySet()) cpio.symlink(e.getKey(), e.getValue());
                }
                Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return new Initramfs(out, resolved.stream().map(KernelModules.Module::name).toList());
        }

        private static void transitiveDeps(KernelModules.Module m, Map<String, KernelModules.Module> all, Set<String> acc) {
            for (String d : m.depends()) {
                KernelModules.Module dm = all.get(d);
                if (dm != null && acc.add(dm.relPath())) transitiveDeps(dm, all, acc);
            }
        }

        private static void addParents(String path, Set<String> dirs) {
            int i = path.lastIndexOf('/');
            while (i > 0) {
                String parent = path.substring(0, i);
                if (!dirs.add(parent)) break;
                i = parent.lastIndexOf('/');
            }
        }
    }
}
