package io.jvfio.cli.scenarios;

import io.jvfio.cli.Main;
import io.jvfio.testing.Await;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One device served by real {@code jvfio serve} processes in a row, upgraded the way a user does it:
 * the first started with {@code --socket S --handover-socket CTRL}, each successor with {@code
 * --take-over GO --take-over-wait 10m --handover-socket CTRL} and the same device options, GO being a
 * link to CTRL made when the upgrade is to happen. Each process's stdout and stderr go to files in
 * the directory; an upgrade is over when the old process has exited after handing over and the
 * successor has printed its pause (its first command handled) and its own offer.
 *
 * <p>Each successor is started ahead ({@code --take-over-wait}), so the upgrade is not held up by
 * its JVM's start-up and the hand-over does not compete with it for the CPU; it takes over when
 * the go link it waits for appears.
 *
 * <p>Like {@code ./jvfio}, the processes start from a JDK AOT cache (classes loaded and linked
 * ahead), recorded here by the first successor — a training run of exactly what a successor does:
 * take over, serve, offer, hand over — and used from the third on (the second starts while the first
 * still runs). The JVM takes a cache only from jars, so {@link #classPath} packs the class path's
 * directories into jars.
 */
final class UpgradedServer implements AutoCloseable {
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(120);
    /** The process that records the AOT cache at its exit: the first successor. */
    private static final int AOT_TRAINING_RUN = 1;
    private static final Pattern PAUSE = Pattern.compile("upgrade pause: ([0-9.]+) ms");
    /** The old server's log line ({@code HandoverOffer}): its stop-and-save, and from its start to its COMMIT. */
    private static final Pattern HANDED_OVER = Pattern.compile(
            "device stopped and saved in ([0-9.]+) ms, (\\d+) bytes of state, (\\d+) bytes of client input.*committed after ([0-9.]+) ms");
    /** The successor's log line ({@code TakeOver}). */
    private static final Pattern TOOK_OVER = Pattern.compile(
            "last command handled ([0-9.]+) ms before the state arrived; session rebuilt in ([0-9.]+) ms, device loaded in ([0-9.]+) ms");
    /** The successor's log line once its device runs ({@code TakeOver}): the LOADED/COMMIT round trip, the whole stop. */
    private static final Pattern RUNNING = Pattern.compile(
            "committed ([0-9.]+) ms after the device was loaded; device running, stopped for ([0-9.]+) ms in all");

    /**
     * One upgrade as the servers logged it, in milliseconds: the pause (the old server's last command
     * handled to the successor's first); from that last command until the state arrived at the
     * successor (boundary, device stop — for a successor on this host, so without a flush — save, send); of that, the old server's stop and
     * save; the successor's session rebuild and its device's load; the LOADED/COMMIT round trip and
     * the device's start; and the rest of the pause (the successor's start of serving, the client's
     * next command, its handling). {@code deviceStopped}: from the old server's device stop to the
     * successor's device running (one clock for both processes, CLOCK_MONOTONIC) — the time no I/O was
     * processed.
     */
    record Upgrade(int number, double pause, double untilStateArrived, double stopAndSave, double rebuild, double load,
                   double commit, double deviceStopped, int stateBytes, int unhandledInputBytes) {
        double rest() {
            return pause - untilStateArrived - rebuild - load - commit;
        }
    }

    private final Path dir;
    private final String name;
    private final List<String> deviceArguments;
    private final Path socket, control, aotCache;
    private final String classPath;
    private final List<Process> processes = new ArrayList<>();
    private final List<Upgrade> upgrades = new ArrayList<>();
    /** The index of the process serving now. */
    private int serving;

    /**
     * {@code classPath}: from {@link #classPath}; {@code deviceArguments}: {@code serve}'s subcommand
     * and its device options, e.g. {@code nvme --namespace IMG}.
     */
    UpgradedServer(Path dir, String name, String classPath, String... deviceArguments) {
        this.dir = dir;
        this.name = name;
        this.classPath = classPath;
        this.deviceArguments = List.of(deviceArguments);
        this.socket = dir.resolve(name + ".sock");
        this.control = dir.resolve(name + ".ctl");
        this.aotCache = dir.resolve(name + ".aot");
    }

    /** This JVM's class path with each directory packed into a jar in {@code dir}. */
    static String classPath(Path dir) throws IOException {
        List<String> entries = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path path = Path.of(entry);
            if (!Files.isDirectory(path)) {
                entries.add(entry);
                continue;
            }
            Path jar = dir.resolve("classes-" + entries.size() + ".jar");
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar)); var files = Files.walk(path)) {
                for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new JarEntry(path.relativize(file).toString().replace(File.separatorChar, '/')));
                    Files.copy(file, out);
                    out.closeEntry();
                }
            }
            entries.add(jar.toString());
        }
        return String.join(File.pathSeparator, entries);
    }

    Path socket() {
        return socket;
    }

    List<Upgrade> upgrades() {
        return upgrades;
    }

    /** Starts the first server and waits until it listens and offers an upgrade. */
    void start() throws Exception {
        launch("--socket", socket.toString());
        await(() -> out(0).contains("offering a live upgrade"), "the first server's offer");
    }

    /**
     * Starts the next successor ahead ({@code --take-over-wait}): its JVM starts and builds the device
     * while the running server serves on; it takes over when {@link #upgrade} makes its go link.
     */
    void prepareSuccessor() throws IOException {
        if (processes.size() == serving + 1) {
            int successor = serving + 1;
            launch("--take-over", goLink(successor).toString(), "--take-over-wait", "10m");
        }
    }

    /** Waits until the prepared successor is ready (device built, waiting for its go link). */
    void awaitSuccessorReady() throws Exception {
        int successor = serving + 1;
        Process process = processes.get(successor);
        await(() -> out(successor).contains("ready to take over") || !process.isAlive(), "server " + successor + " ready");
        check(process.isAlive(), "server " + successor + " is ready to take over");
    }

    /**
     * Replaces the running server by its successor (prepared here if it was not): links the
     * successor's go path to the control socket and waits until the old server has exited and the
     * successor has handled the client's first command and offers the next upgrade; returns the
     * upgrade as the two servers logged it.
     */
    Upgrade upgrade() throws Exception {
        prepareSuccessor();
        awaitSuccessorReady();
        int old = serving, successor = old + 1;
        Process oldProcess = processes.get(old), newProcess = processes.get(successor);
        Files.createSymbolicLink(goLink(successor), control);
        await(() -> !oldProcess.isAlive() || !newProcess.isAlive(), "server " + old + " to hand over to server " + successor);
        check(oldProcess.waitFor(STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS) && oldProcess.exitValue() == 0
                && out(old).contains("handed over to a successor; exiting"), "server " + old + " handed over and exited");
        Files.delete(goLink(successor));
        await(() -> PAUSE.matcher(out(successor)).find() || !newProcess.isAlive(), "server " + successor + "'s first command");
        await(() -> out(successor).contains("offering a live upgrade") || !newProcess.isAlive(), "server " + successor + "'s offer");
        check(newProcess.isAlive(), "server " + successor + " serves");
        serving = successor;
        Matcher pause = find(PAUSE, out(successor), successor), tookOver = find(TOOK_OVER, err(successor), successor),
                running = find(RUNNING, err(successor), successor), handedOver = find(HANDED_OVER, err(old), old);
        Upgrade upgrade = new Upgrade(successor, millis(pause, 1), millis(tookOver, 1), millis(handedOver, 1),
                millis(tookOver, 2), millis(tookOver, 3), millis(running, 1), millis(running, 2), Integer.parseInt(handedOver.group(2)),
                Integer.parseInt(handedOver.group(3)));
        upgrades.add(upgrade);
        return upgrade;
    }

    /** The path successor {@code index} waits for: made, as a link to the control socket, when it is to take over. */
    private Path goLink(int index) {
        return dir.resolve(name + ".go" + index);
    }

    /** Whether every process before the running one exited 0 after handing over. */
    boolean allHandedOver() throws IOException {
        for (int i = 0; i < serving; i++) {
            if (processes.get(i).isAlive() || processes.get(i).exitValue() != 0 || !out(i).contains("handed over to a successor; exiting")) {
                return false;
            }
        }
        return true;
    }

    /** The running server stops (SIGTERM) as it would at the end of its VM; whether it exited at once with 0. */
    boolean stop() throws InterruptedException {
        Process current = processes.get(serving);
        current.destroy();
        return current.waitFor(30, TimeUnit.SECONDS) && current.exitValue() == 0;
    }

    /** What each process printed, for a failure's report. */
    String logs() {
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < processes.size(); i++) {
            try {
                all.append("---- ").append(name).append(" server ").append(i).append('\n').append(out(i)).append(err(i));
            } catch (IOException e) {
                all.append(e).append('\n');
            }
        }
        return all.toString();
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private void launch(String... endpoint) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow"));
        int index = processes.size();
        if (index == AOT_TRAINING_RUN) {
            // As ./jvfio records its cache: without the training run's method profiles.
            command.addAll(List.of("-XX:AOTCacheOutput=" + aotCache, "-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTRecordTraining"));
        } else if (index > AOT_TRAINING_RUN && !processes.get(AOT_TRAINING_RUN).isAlive() && Files.exists(aotCache)) {
            command.add("-XX:AOTCache=" + aotCache);
        }
        command.addAll(List.of("-cp", classPath, Main.class.getName(), "serve"));
        command.addAll(deviceArguments);
        command.addAll(List.of(endpoint));
        command.addAll(List.of("--handover-socket", control.toString()));
        processes.add(new ProcessBuilder(command).redirectOutput(file(index, "out").toFile()).redirectError(file(index, "err").toFile())
                .start());
    }

    private Path file(int index, String suffix) {
        return dir.resolve(name + "-" + index + "." + suffix);
    }

    private String out(int index) throws IOException {
        return Files.readString(file(index, "out"));
    }

    private String err(int index) throws IOException {
        return Files.readString(file(index, "err"));
    }

    private Matcher find(Pattern pattern, String text, int index) {
        Matcher m = pattern.matcher(text);
        check(m.find(), name + " server " + index + " logged /" + pattern + "/");
        return m;
    }

    private static double millis(Matcher m, int group) {
        return Double.parseDouble(m.group(group));
    }

    private void await(Await.Condition condition, String what) throws Exception {
        check(Await.until(STEP_TIMEOUT, condition), "in time: " + what);
    }

    private void check(boolean holds, String what) {
        if (!holds) {
            throw new AssertionError(name + ": not so: " + what + "\n" + logs());
        }
    }

    /** The median of {@code values} (the mean of the middle two for an even count). */
    static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    static Optional<Double> max(List<Double> values) {
        return values.stream().max(Double::compare);
    }
}
