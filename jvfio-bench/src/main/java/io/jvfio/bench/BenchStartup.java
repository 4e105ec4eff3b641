package io.jvfio.bench;

import io.jvfio.client.ClientOptions;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.PciIdio16;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixSocket;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToIntFunction;

/**
 * {@code jvfio bench startup}: time from exec of {@code LAUNCHER serve gpio --socket S} to the
 * socket accepting connections, without and with the launcher's AOT cache ({@code JVFIO_AOT=0|1}).
 * Also the training workload the launcher records the AOT cache with.
 */
public final class BenchStartup {
    private BenchStartup() {}

    public record Result(String mode, double minMs, double medianMs, double maxMs) {}

    public static List<Result> run(Path launcher, int runs, PrintStream log) throws Exception {
        List<Result> results = new ArrayList<>();
        Path dir = Files.createTempDirectory("jvfio-startup-");
        try {
            for (String aot : List.of("0", "1")) {
                double[] ms = new double[runs];
                for (int r = -1; r < runs; r++) { // run -1 builds or records the cache if needed
                    Path socket = dir.resolve("gpio.sock");
                    ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "serve", "gpio", "--socket", socket.toString())
                            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
                    Map<String, String> env = pb.environment();
                    env.put("JVFIO_AOT", aot);
                    long start = System.nanoTime();
                    Process p = pb.start();
                    try {
                        long deadline = start + 120_000_000_000L;
                        while (true) {
                            try (UnixSocket s = UnixSocket.connect(socket)) {
                                break;
                            } catch (LinuxException e) {
                                if (System.nanoTime() > deadline || !p.isAlive()) {
                                    throw new IllegalStateException("the server did not start: " + e.getMessage());
                                }
                                // Not a spin: on two CPUs a spinning poller takes one from the server starting.
                                java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                            }
                        }
                        if (r >= 0) {
                            ms[r] = (System.nanoTime() - start) / 1e6;
                        }
                    } finally {
                        p.destroy();
                        p.waitFor();
                        Files.deleteIfExists(socket);
                    }
                }
                Arrays.sort(ms);
                Result result = new Result(aot.equals("1") ? "with AOT cache" : "without AOT cache", ms[0], ms[runs / 2], ms[runs - 1]);
                log.println(String.format(Locale.ROOT, "startup %s: %.0f / %.0f / %.0f ms", result.mode(), result.minMs(),
                        result.medianMs(), result.maxMs()));
                results.add(result);
            }
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return results;
    }

    public static void print(List<Result> results, PrintStream out) {
        out.println("| `jvfio serve gpio`: exec → socket listening | min | median | max |");
        out.println("|---|---:|---:|---:|");
        for (Result r : results) {
            out.println(String.format(Locale.ROOT, "| %s | %.0f ms | %.0f ms | %.0f ms |", r.mode(), r.minMs(), r.medianMs(), r.maxMs()));
        }
    }

    /**
     * The AOT training run: {@code jvfio serve gpio} itself (the command line, the server, the first
     * client's commands) through {@code serveGpioCommand} (which runs it on the socket it is given
     * and returns its exit status), stopped with the SIGTERM it handles; then the same through the API.
     */
    public static void train(ToIntFunction<Path> serveGpioCommand) throws Exception {
        train(Optional.of(serveGpioCommand));
    }

    /** The training through the API only; returns the card it served, as the training's client left it. */
    static PciIdio16 train() throws Exception {
        return train(Optional.empty());
    }

    private static PciIdio16 train(Optional<ToIntFunction<Path>> serveGpioCommand) throws Exception {
        Path dir = Files.createTempDirectory("jvfio-aot-");
        Path socket = dir.resolve("gpio.sock");
        // A socket of its own: serve's SIGTERM handler may remove its socket file only after serve has
        // returned, which must not hit the next server's socket.
        Path serveSocket = dir.resolve("serve.sock");
        try {
            if (serveGpioCommand.isPresent()) {
                trainServeCommand(serveGpioCommand.get(), serveSocket);
            }
            PciIdio16 card = new PciIdio16();
            try (VfioUserServer server = VfioUserServer.bind(socket, card, ServerOptions.defaults())) {
                server.start();
                try (VfioUserClient c = VfioUserClient.connect(socket, ClientOptions.defaults())) {
                    exercise(c);
                }
            }
            return card;
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(serveSocket);
            Files.deleteIfExists(dir);
        }
    }

    /** Installs serve's SIGTERM handler for good: only for the training JVM, which exits right after. */
    private static void trainServeCommand(ToIntFunction<Path> serveGpioCommand, Path socket) throws Exception {
        int[] exit = {-1};
        Thread serve = Thread.ofPlatform().name("aot-serve").start(() -> exit[0] = serveGpioCommand.applyAsInt(socket));
        try (VfioUserClient c = VfioUserClient.open(BenchLatency.connect(socket), ClientOptions.defaults())) {
            exercise(c);
        }
        sun.misc.Signal.raise(new sun.misc.Signal("TERM")); // serve's own handler closes the server
        serve.join(10_000);
        if (serve.isAlive() || exit[0] != 0) {
            throw new IllegalStateException("serve did not stop cleanly (exit " + exit[0] + ")");
        }
        Files.deleteIfExists(socket);
    }

    private static void exercise(VfioUserClient c) throws Exception {
        c.deviceInfo();
        for (int i = 0; i < 9; i++) {
            c.regionInfo(i).close();
        }
        for (int i = 0; i < 200; i++) {
            c.write8(BenchLatency.GPIO_BAR, 0, i);
            c.read8(BenchLatency.GPIO_BAR, 0);
            c.read32(7, 0);
        }
    }
}
