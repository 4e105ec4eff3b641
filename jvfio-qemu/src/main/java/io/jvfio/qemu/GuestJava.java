package io.jvfio.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Java inside a guest. QEMU exports the rootfs read-only over 9p ({@link GuestOptions#shareRootfs}); the guest's
 * {@value #LAUNCHER} (from {@link Initramfs.Builder#java()}) mounts it at {@value #GUEST_ROOT} and runs {@code java}
 * in a chroot there, where the Debian rootfs supplies the glibc the JDK needs.
 *
 * <p>The JDK is the one running the harness ({@code java.home}), put into {@code <rootfs>/opt/jvfio/jdk/<name>} once
 * and kept (a cache: the guest sees the same JDK as the test). Its files are hard-linked where the rootfs shares the
 * JDK's file system (no extra space), else copied (about 300 MB for Temurin 25). The class path is staged per run
 * in {@code <workDir>/java/classpath} (hard-linked or copied as well) and named, with the JDK, in
 * {@code <workDir>/java/env}, which the launcher reads through {@code $JVFIO_RUN}.
 */
public final class GuestJava {
    /** The 9p mount tag of the shared rootfs. */
    public static final String MOUNT_TAG = "jvfio-rootfs";
    /** The guest's launcher: {@code jvfio-java [java options] class [args]}. */
    public static final String LAUNCHER = "/bin/jvfio-java";
    /** Where the guest mounts the shared rootfs (the chroot the JVM runs in). */
    public static final String GUEST_ROOT = "/mnt/rootfs";
    /** The 9p file system and its virtio transport (their dependencies follow). */
    static final String[] MODULES = {"9p", "9pnet_virtio"};
    private static final String JDK_DIR = "opt/jvfio/jdk";
    private static final String RUN_SUBDIR = "java";

    private GuestJava() {}

    /** The guest script {@value #LAUNCHER}: mounts the rootfs once, then execs java in a chroot of it. */
    static String launcherScript() {
        return """
                #!/bin/sh
                # jvfio-java [java options] class [args]: the host's JDK and the staged class path, run in a chroot of
                # the rootfs that QEMU shares read-only over 9p (GuestOptions.java, GuestJava).
                R=@ROOT@
                if ! grep -q " $R 9p " /proc/mounts; then
                    mkdir -p $R
                    mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose @TAG@ $R || exit 70
                    for d in proc sys dev; do mount -o bind /$d $R/$d || exit 70; done
                    mount -t tmpfs tmpfs $R/tmp || exit 70
                fi
                if [ -z "$JVFIO_RUN" ] || [ ! -f "$R$JVFIO_RUN/java/env" ]; then
                    echo "jvfio-java: no Java staged for this run (GuestOptions.java)" >&2
                    exit 70
                fi
                . "$R$JVFIO_RUN/java/env"
                # Class data sharing maps its archive where it is told to rather than at a random address: relocating
                # the archive's pointers costs 1-10 s under TCG, against 0.05 s without.
                set -- -XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0 "$@"
                exec chroot $R "$JAVA_HOME/bin/java" -cp "$JVFIO_CLASSPATH" "$@"
                """.replace("@ROOT@", GUEST_ROOT).replace("@TAG@", MOUNT_TAG);
    }

    /**
     * Stages Java for one run: the class path entries (missing ones are skipped) and {@code <workDir>/java/env},
     * which names them and the JDK (a host path in the rootfs, from {@link #installJdk}).
     */
    static void stage(GuestToolchain tc, Path workDir, List<Path> classpath, Path jdk) throws IOException {
        Path dir = Files.createDirectories(workDir.resolve(RUN_SUBDIR).resolve("classpath"));
        List<String> guestEntries = new ArrayList<>();
        int index = 0;
        for (Path entry : classpath) {
            if (!Files.exists(entry)) continue;
            Path staged = dir.resolve(index++ + "-" + entry.getFileName());
            FileTrees.linkOrCopyTree(entry.toAbsolutePath(), staged);
            guestEntries.add(tc.toChrootPath(staged));
        }
        String env = "JAVA_HOME=" + shellQuoted(tc.toChrootPath(jdk)) + "\n"
                + "JVFIO_CLASSPATH=" + shellQuoted(String.join(":", guestEntries)) + "\n";
        Files.writeString(workDir.resolve(RUN_SUBDIR).resolve("env"), env, StandardCharsets.UTF_8);
    }

    /**
     * This JVM's JDK in the rootfs, put there on first use: {@code <rootfs>/opt/jvfio/jdk/<directory>-<version>}.
     *
     * @return its host path
     */
    public static Path installJdk(GuestToolchain tc) throws IOException {
        return installJdk(tc, Path.of(System.getProperty("java.home")), System.getProperty("java.runtime.version"));
    }

    /**
     * Puts the JDK at {@code javaHome} into the rootfs unless a JDK of that directory name and version is there.
     * Built under a temporary name and renamed, so a JDK directory that exists is complete.
     */
    static Path installJdk(GuestToolchain tc, Path javaHome, String version) throws IOException {
        Path home = javaHome.toRealPath();
        String name = home.getFileName() + "-" + version;
        Path parent = Files.createDirectories(tc.rootfs().resolve(JDK_DIR));
        Path target = parent.resolve(name);
        if (Files.isDirectory(target)) return target;
        Path building = parent.resolve(".building-" + name + "-" + ProcessHandle.current().pid() + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
        try {
            FileTrees.linkOrCopyTree(home, building);
            try {
                Files.move(building, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                // Another JVM installed it first (the rename met its directory): keep theirs.
                if (!Files.isDirectory(target)) throw e;
            }
        } finally {
            FileTrees.deleteTree(building);
        }
        return target;
    }

    private static String shellQuoted(String s) {
        if (s.indexOf('\'') >= 0) throw new IllegalArgumentException("a path with a single quote: " + s);
        return "'" + s + "'";
    }
}
