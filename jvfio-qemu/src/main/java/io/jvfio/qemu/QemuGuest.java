package io.jvfio.qemu;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * One QEMU run: {@code chroot <rootfs> qemu-system-x86_64 -accel tcg -kernel ... -initrd ...} with the serial
 * console on QEMU's stdout, which the harness reads live.
 *
 * <p>Typical use, with a vfio-user server that must listen before QEMU connects:
 * <pre>{@code
 * var tc = GuestToolchain.locate();
 * var initrd = Initramfs.builder(tc).modules("gpio-pci-idio-16").script("lspci -n").build(tmp.resolve("initrd"));
 * try (var guest = QemuGuest.prepare(tc, QemuGuest.options().initramfs(initrd.path())
 *         .sharedMemory(true).vfioUserDevice(Path.of("dev.sock")))) {   // relative: inside workDir()
 *     server.listen(guest.workDir().resolve("dev.sock"));
 *     guest.launch();
 *     GuestResult r = guest.awaitExit();
 * }
 * }</pre>
 *
 * <p>Each run gets a fresh directory {@code <rootfs>/run/jvfio/<pid>-<n>-<rand>} ({@link #workDir()}), holding copies
 * of the kernel and initramfs; sockets go there too. It is deleted on {@link #close()}; directories left by dead
 * JVMs are removed when the next guest is prepared.
 *
 * <p>QEMU never outlives the JVM: it runs with {@code -run-with exit-with-parent=on} (started from one long-lived
 * launcher thread, since the parent-death signal follows the forking thread), and a shutdown hook kills live guests.
 *
 * <p>Boot numbering and reboots: the harness passes {@code jvfio.boot=ask}; /init then prints
 * {@code JVFIO-BOOT-ASK}, the harness answers over the serial console (QEMU's stdin) with the count of asks so far,
 * and /init prints {@code JVFIO-BOOT <n>} and exports {@code $JVFIO_BOOT=n} to the script. So with
 * {@link GuestOptions#allowReboot(boolean) allowReboot(true)} a script can do
 * {@code [ "$JVFIO_BOOT" = 1 ] && reboot -f}. {@link GuestOptions#bootsToRun(int) bootsToRun(n)} bounds it: the harness
 * kills QEMU once the n-th boot printed its verdict (if QEMU doesn't power off by itself within a few seconds), or
 * as soon as an (n+1)-th boot starts.
 */
public final class QemuGuest implements AutoCloseable {

    /** Default kernel command line; {@link GuestOptions#appendKernelArgs} adds to it. */
    public static final String DEFAULT_KERNEL_ARGS = "console=ttyS0 quiet panic=-1";
    private static final Duration AFTER_LAST_VERDICT = Duration.ofSeconds(10);

    private static final Set<QemuGuest> LIVE = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final ExecutorService LAUNCHER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "jvfio-qemu-launcher");
        t.setDaemon(true);
        return t;
    });
    private static volatile boolean staleCleaned;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (QemuGuest g : LIVE) {
                try {
                    g.close();
                } catch (RuntimeException ignored) {
                    // best effort at exit
                }
            }
        }, "jvfio-qemu-shutdown"));
    }

    private final GuestToolchain tc;
    private final GuestOptions options;
    private final Path workDir;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<String> lines = new ArrayList<>();
    private final StringBuilder partial = new StringBuilder();
    private int boots;
    private int asks;
    private boolean eof;
    private Process process;
    private Thread reader;
    private OutputStream stdin;
    private long launchedNanos;
    private GuestResult result;
    private volatile boolean closed;

    private QemuGuest(GuestToolchain tc, GuestOptions options, Path workDir) {
        this.tc = tc;
        this.options = options;
        this.workDir = workDir;
    }

    public static GuestOptions options() {
        return new GuestOptions();
    }

    /** Creates the run directory without starting QEMU: bind sockets in {@link #workDir()}, then {@link #launch()}. */
    public static QemuGuest prepare(GuestToolchain tc, GuestOptions o) throws IOException {
        Objects.requireNonNull(tc);
        GuestOptions copy = o.copy();
        if (copy.initramfs() == null) {
            throw new IllegalArgumentException("GuestOptions.initramfs(...) is required (see Initramfs.builder)");
        }
        Path root = tc.runRoot();
        Files.createDirectories(root);
        cleanStale(root);
        Path dir;
        while (true) {
            String id = ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet() + "-"
                    + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
            try {
                dir = Files.createDirectory(root.resolve(id));
                break;
            } catch (FileAlreadyExistsException e) {
                // try another name
            }
        }
        QemuGuest g = new QemuGuest(tc, copy, dir);
        LIVE.add(g);
        return g;
    }

    /** {@link #prepare} then {@link #launch}. */
    public static QemuGuest start(GuestToolchain tc, GuestOptions o) throws IOException {
        QemuGuest g = prepare(tc, o);
        try {
            g.launch();
        } catch (IOException | RuntimeException e) {
            g.close();
            throw e;
        }
        return g;
    }

    /** Start, wait for the exit, clean up. */
    public static GuestResult run(GuestToolchain tc, GuestOptions o) throws IOException, InterruptedException {
        try (QemuGuest g = start(tc, o)) {
            return g.awaitExit();
        }
    }

    /** This run's directory inside the rootfs (host path); put vfio-user sockets here. */
    public Path workDir() { return workDir; }

    /** The toolchain this guest runs with. */
    public GuestToolchain toolchain() { return tc; }

    /** Copies kernel and initramfs into {@link #workDir()} and starts QEMU. Once. */
    public void launch() throws IOException {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("guest closed");
            if (process != null) throw new IllegalStateException("already launched");
        } finally {
            lock.unlock();
        }
        FileTrees.linkOrCopy(tc.kernel(), workDir.resolve("vmlinuz"));
        FileTrees.linkOrCopy(options.initramfs(), workDir.resolve("initramfs.img"));
        if (options.javaClasspath() != null) {
            GuestJava.stage(tc, workDir, options.javaClasspath(), GuestJava.installJdk(tc));
        }
        List<String> cmd = tc.chrootCommand(qemuArgs());
        Files.writeString(workDir.resolve("command.txt"), String.join(" ", cmd) + "\n");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Process p;
        try {
            // The parent-death signal (exit-with-parent) fires when the *thread* that forked QEMU dies: fork from
            // one thread that lives as long as the JVM.
            p = LAUNCHER.submit(pb::start).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting QEMU", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            throw new IOException("cannot start QEMU: " + e.getCause(), e.getCause());
        }
        lock.lock();
        try {
            process = p;
            stdin = p.getOutputStream();
            launchedNanos = System.nanoTime();
            reader = Thread.ofPlatform().daemon().name("jvfio-qemu-console-" + workDir.getFileName())
                    .start(() -> readConsole(p.getInputStream()));
            if (closed) p.destroyForcibly();
        } finally {
            lock.unlock();
        }
    }

    /** The full QEMU argument list (the part after {@code chroot <rootfs>}). */
    List<String> qemuArgs() {
        return options.qemuArgs(tc, workDir);
    }

    // ---- console ----

    private void readConsole(InputStream in) {
        byte[] buf = new byte[8192];
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try (in) {
            int n;
            while ((n = in.read(buf)) > 0) {
                lock.lock();
                try {
                    for (int i = 0; i < n; i++) {
                        byte b = buf[i];
                        if (b == '\n') {
                            String s = line.toString(StandardCharsets.UTF_8);
                            line.reset();
                            partial.setLength(0);
                            onLine(s);
                        } else if (b != '\r') {
                            line.write(b);
                        }
                    }
                    partial.setLength(0);
                    partial.append(line.toString(StandardCharsets.UTF_8));
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException e) {
            // stream closed: QEMU gone
        } finally {
            lock.lock();
            try {
                if (line.size() > 0) lines.add(line.toString(StandardCharsets.UTF_8));
                partial.setLength(0);
                eof = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Called with the lock held. */
    private void onLine(String s) {
        lines.add(s);
        if (s.contains(Initramfs.BOOT_ASK)) {
            asks++;
            try {
                stdin.write((asks + "\n").getBytes(StandardCharsets.US_ASCII));
                stdin.flush();
            } catch (IOException e) {
                note("cannot answer the boot-number request: " + e.getMessage());
            }
        } else if (isBootMarker(s)) {
            boots++;
            if (options.bootsToRun() > 0 && boots > options.bootsToRun()) {
                note("boot " + boots + " exceeds bootsToRun(" + options.bootsToRun() + "): killing QEMU");
                process.destroyForcibly();
            }
        } else if (s.contains(Initramfs.VERDICT_MARKER) && options.bootsToRun() > 0 && boots >= options.bootsToRun()) {
            Process p = process;
            Thread.ofVirtual().start(() -> {
                try {
                    if (!p.waitFor(AFTER_LAST_VERDICT.toMillis(), TimeUnit.MILLISECONDS)) {
                        lock.lock();
                        try {
                            note("boot " + boots + " gave its verdict but QEMU did not exit: killing it");
                        } finally {
                            lock.unlock();
                        }
                        p.destroyForcibly();
                    }
                } catch (InterruptedException ignored) {
                    // leave it to the timeout
                }
            });
        }
    }

    /** A {@code JVFIO-BOOT <n>} marker line. */
    static boolean isBootMarker(String line) {
        int i = line.indexOf(Initramfs.BOOT_MARKER);
        if (i < 0) return false;
        String rest = line.substring(i + Initramfs.BOOT_MARKER.length()).strip();
        return !rest.isEmpty() && rest.chars().allMatch(Character::isDigit);
    }

    /** Adds a harness note to the console transcript. Lock held. */
    private void note(String msg) {
        lines.add("[jvfio] " + msg);
        changed.signalAll();
    }

    /**
     * Waits until a console line (already printed or new) matches, QEMU exits, or the timeout passes.
     *
     * @return whether a matching line was seen
     */
    public boolean awaitConsoleLine(Predicate<String> line, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int checked = 0;
        lock.lock();
        try {
            while (true) {
                for (; checked < lines.size(); checked++) {
                    if (line.test(lines.get(checked))) return true;
                }
                if (eof || process == null && closed) return false;
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The console so far, including an unterminated last line. */
    public String consoleSoFar() {
        lock.lock();
        try {
            StringBuilder sb = new StringBuilder();
            for (String l : lines) sb.append(l).append('\n');
            sb.append(partial);
            return sb.toString();
        } finally {
            lock.unlock();
        }
    }

    /** How many {@code JVFIO-BOOT <n>} markers were seen so far. */
    public int bootsSoFar() {
        lock.lock();
        try {
            return boots;
        } finally {
            lock.unlock();
        }
    }

    /** Whether QEMU is running. */
    public boolean isAlive() {
        Process p = process;
        return p != null && p.isAlive();
    }

    /** QEMU's process id, once launched. */
    public long pid() {
        Process p = process;
        if (p == null) throw new IllegalStateException("not launched");
        return p.pid();
    }

    /**
     * Waits for QEMU to exit, up to {@link GuestOptions#timeout(java.time.Duration)} after launch (then kills it), and collects the console.
     * Idempotent.
     */
    public GuestResult awaitExit() throws InterruptedException {
        Process p;
        lock.lock();
        try {
            if (result != null) return result;
            p = process;
        } finally {
            lock.unlock();
        }
        if (p == null) throw new IllegalStateException("QEMU was not launched");
        long left = options.timeout().toNanos() - (System.nanoTime() - launchedNanos);
        boolean timedOut = false;
        if (!p.waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
            timedOut = true;
            lock.lock();
            try {
                note("timeout after " + options.timeout().toSeconds() + " s: killing QEMU");
            } finally {
                lock.unlock();
            }
            p.destroyForcibly();
        }
        int code = p.waitFor();
        reader.join(TimeUnit.SECONDS.toMillis(10));
        lock.lock();
        try {
            if (result == null) result = GuestResult.of(code, timedOut, consoleSoFar());
            return result;
        } finally {
            lock.unlock();
        }
    }

    /** SIGKILLs QEMU (no-op if it is not running). */
    public void kill() {
        Process p = process;
        if (p != null) p.destroyForcibly();
    }

    /** Kills QEMU if alive and deletes {@link #workDir()}. */
    @Override
    public void close() {
        Process p;
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            p = process;
        } finally {
            lock.unlock();
        }
        try {
            if (p != null) {
                p.destroyForcibly();
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                    if (reader != null) reader.join(TimeUnit.SECONDS.toMillis(5));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                try {
                    stdin.close();
                } catch (IOException ignored) {
                    // already gone
                }
            }
            deleteTree(workDir);
        } finally {
            LIVE.remove(this);
        }
    }

    private static void cleanStale(Path root) {
        if (staleCleaned) return;
        staleCleaned = true;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path d : ds) {
                String name = d.getFileName().toString();
                int dash = name.indexOf('-');
                if (dash <= 0) continue;
                try {
                    long pid = Long.parseLong(name.substring(0, dash));
                    if (ProcessHandle.of(pid).isEmpty()) deleteTree(d);
                } catch (NumberFormatException ignored) {
                    // not ours
                }
            }
        } catch (IOException ignored) {
            // best effort
        }
    }

    private static void deleteTree(Path dir) {
        try {
            FileTrees.deleteTree(dir);
        } catch (IOException | UncheckedIOException e) {
            // best effort
        }
    }

    @Override
    public String toString() {
        return "QemuGuest[" + workDir + (isAlive() ? ", running pid " + process.pid() : "") + "]";
    }
}
