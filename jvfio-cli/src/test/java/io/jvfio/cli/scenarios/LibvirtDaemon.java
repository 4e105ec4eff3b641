package io.jvfio.cli.scenarios;

import io.jvfio.cli.scenarios.LibvirtDomainXml.Ran;
import io.jvfio.qemu.GuestToolchain;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A libvirtd of the guest toolchain's chroot for one test, driven with virsh.
 *
 * <p>It runs in mount and PID namespaces of its own ({@code unshare}): /proc, /sys and a devpts of its own (for the
 * console's pty) are mounted for it, its qemu.conf (QEMU as root, no confinement, no cgroups, QEMU's output to a
 * file rather than virtlogd) is bind-mounted over the chroot's, and /run/libvirt, /var/lib/libvirt, /var/log/libvirt
 * and /etc/libvirt/qemu are empty tmpfs, so nothing it defines or logs outlives it. Those mounts exist only in its
 * namespace, and the namespace ends with its first process: {@link #close()} SIGKILLs {@code unshare}, which takes
 * its child (the namespace's init) with it, and the kernel then kills libvirtd and QEMU. {@code setpriv --pdeathsig}
 * does the same if this JVM dies. Its socket is in {@code directory} (inside the chroot), so virsh reaches it as
 * {@code qemu:///system?socket=...} from a plain chroot. QEMU's capabilities stay cached in the chroot's
 * /var/cache/libvirt: probing them takes tens of seconds under TCG, once.
 */
final class LibvirtDaemon implements AutoCloseable {
    private static final String QEMU_CONF = """
            # jvfio's test libvirtd: QEMU as root with no confinement, cgroups or device namespace (none of
            # which a chroot without systemd offers), its output to a file instead of virtlogd.
            user = "root"
            group = "root"
            security_driver = "none"
            dynamic_ownership = 0
            remember_owner = 0
            cgroup_controllers = [ ]
            namespaces = [ ]
            stdio_handler = "file"
            """;
    private static final String LIBVIRTD_CONF = """
            unix_sock_dir = "%s"
            unix_sock_rw_perms = "0700"
            auth_unix_rw = "none"
            auth_unix_ro = "none"
            """;
    /** Run by {@code unshare} in the new namespaces: $1 the rootfs, $2 this daemon's directory, $3 it in the chroot. */
    private static final String NAMESPACE_SCRIPT = """
            set -e
            mount -t sysfs sysfs "$1/sys"
            mount -t devpts -o ptmxmode=0666 devpts "$1/dev/pts"
            mount --bind "$2/qemu.conf" "$1/etc/libvirt/qemu.conf"
            for d in run/libvirt var/lib/libvirt var/log/libvirt etc/libvirt/qemu; do
                mkdir -p "$1/$d"
                mount -t tmpfs tmpfs "$1/$d"
            done
            exec chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \\
                sh -c 'libvirtd -f "$1"; exit $?' libvirtd "$3/libvirtd.conf"
            """;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    /**
     * {@code --pdeathsig} follows the thread that forked: fork from one thread that lives as long as the JVM, as
     * {@link io.jvfio.qemu.QemuGuest} does for QEMU.
     */
    private static final ExecutorService LAUNCHER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "libvirtd-launcher");
        t.setDaemon(true);
        return t;
    });

    private final GuestToolchain toolchain;
    private final Path directory;
    private final String uri;
    private final Process unshare;

    private LibvirtDaemon(GuestToolchain toolchain, Path directory, Process unshare) {
        this.toolchain = toolchain;
        this.directory = directory;
        this.uri = "qemu:///system?socket=" + toolchain.toChrootPath(directory) + "/libvirt-sock";
        this.unshare = unshare;
    }

    /**
     * Starts libvirtd with its configuration, socket and output ({@code libvirtd.log}) in {@code directory}, a
     * directory inside the chroot, and returns once it accepts virsh.
     */
    static LibvirtDaemon start(GuestToolchain toolchain, Path directory) throws IOException, InterruptedException {
        LibvirtDomainXml.requireInChroot(toolchain, "usr/sbin/libvirtd");
        LibvirtDomainXml.requireInChroot(toolchain, "usr/bin/virsh");
        String chrootDirectory = toolchain.toChrootPath(directory);
        Files.writeString(directory.resolve("qemu.conf"), QEMU_CONF);
        Files.writeString(directory.resolve("libvirtd.conf"), LIBVIRTD_CONF.formatted(chrootDirectory));
        Path rootfs = toolchain.rootfs();
        List<String> command = List.of("setpriv", "--pdeathsig", "KILL", "--",
                "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
                "--mount-proc=" + rootfs.resolve("proc"),
                "sh", "-c", NAMESPACE_SCRIPT, "sh", rootfs.toString(), directory.toString(), chrootDirectory);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(directory.resolve("libvirtd.log").toFile());
        Process unshare;
        try {
            unshare = LAUNCHER.submit(builder::start).get();
        } catch (ExecutionException e) {
            throw new IOException("cannot start libvirtd: " + e.getCause(), e.getCause());
        }
        LibvirtDaemon daemon = new LibvirtDaemon(toolchain, directory, unshare);
        try {
            daemon.awaitSocket();
        } catch (IOException | InterruptedException | RuntimeException e) {
            daemon.close();
            throw e;
        }
        return daemon;
    }

    private void awaitSocket() throws IOException, InterruptedException {
        Path socket = directory.resolve("libvirt-sock");
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!Files.exists(socket)) {
            if (!unshare.isAlive()) {
                throw new IOException("libvirtd exited (" + unshare.exitValue() + "): " + log());
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("libvirtd made no socket in " + START_TIMEOUT.toSeconds() + " s: " + log());
            }
            Thread.sleep(50);
        }
    }

    /** {@code virsh -c <this daemon> args...} in the chroot. */
    Ran virsh(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("virsh", "-q", "-c", uri));
        command.addAll(List.of(args));
        return LibvirtDomainXml.runInChroot(toolchain, command);
    }

    /** {@code virsh domstate <domain>} until it prints {@code state}, or {@code timeout} passes; whether it did. */
    boolean awaitState(String domain, String state, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!virsh("domstate", domain).output().strip().equals(state)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(200);
        }
        return true;
    }

    /** What libvirtd printed so far. */
    String log() throws IOException {
        return Files.readString(directory.resolve("libvirtd.log"));
    }

    /** Kills libvirtd's namespace, and with it libvirtd, any QEMU it runs and every mount made for it. */
    @Override
    public void close() {
        unshare.destroyForcibly();
        try {
            unshare.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
