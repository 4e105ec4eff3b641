package io.jvfio.bench;

import io.jvfio.client.ClientOptions;
import io.jvfio.client.VfioUserClient;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code jvfio bench scale}: one server process hosting N GPIO cards on N sockets, N clients (one
 * thread each, in this process) reading a register as fast as they can. Reports the server's
 * resident memory per device (against a one-device server) and the latency under that load.
 */
public final class BenchScale {
    private BenchScale() {}

    public record Result(int devices, long rssOneKiB, long rssAllKiB, long threadsAll, long ops, double seconds,
                  double p50, double p99, double max, double singleP50) {
        double perDeviceKiB() {
            return devices > 1 ? (double) (rssAllKiB - rssOneKiB) / (devices - 1) : rssOneKiB;
        }
    }

    public static Result run(int devices, double seconds, boolean inProcess, PrintStream log) throws Exception {
        Path dir = Files.createTempDirectory("jvfio-scale-");
        try {
            log.println("scale: 1 device");
            long[] one = serveAndLoad(dir.resolve("one"), 1, seconds, inProcess);
            log.println("scale: " + devices + " devices");
            long[] all = serveAndLoad(dir.resolve("all"), devices, seconds, inProcess);
            // [rssKiB, threads, ops, nanos, p50, p99, max]
            return new Result(devices, one[0], all[0], all[1], all[2], all[3] / 1e9, all[4] / 1000.0, all[5] / 1000.0,
                    all[6] / 1000.0, one[4] / 1000.0);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static long[] serveAndLoad(Path dir, int devices, double seconds, boolean inProcess) throws Exception {
        Files.createDirectories(dir);
        Path pattern = dir.resolve("gpio-%d.sock");
        Process server = null;
        long pid;
        if (inProcess) {
            for (int i = 0; i < devices; i++) {
                BenchServe.start("gpio", Path.of(pattern.toString().formatted(i)));
            }
            pid = ProcessHandle.current().pid();
        } else {
            server = BenchLatency.spawnServe(List.of("gpio", "--socket", pattern.toString(), "--count",
                    Integer.toString(devices))).start();
            pid = server.pid();
        }
        List<VfioUserClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < devices; i++) {
                clients.add(VfioUserClient.open(BenchLatency.connect(Path.of(pattern.toString().formatted(i))),
                        ClientOptions.defaults()));
            }
            for (VfioUserClient c : clients) { // every session touched once, warm
                for (int i = 0; i < 2000; i++) {
                    c.read32(BenchLatency.GPIO_BAR, 0);
                }
            }
            int cap = 1 << 18;
            long[][] samples = new long[devices][cap];
            int[] counts = new int[devices];
            long[] ops = new long[devices];
            CountDownLatch start = new CountDownLatch(1);
            AtomicReference<Exception> failure = new AtomicReference<>();
            long duration = (long) (seconds * 1e9);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < devices; i++) {
                int index = i;
                VfioUserClient c = clients.get(i);
                threads.add(Thread.ofPlatform().name("scale-client-" + i).start(() -> {
                    try {
                        start.await();
                        long end = System.nanoTime() + duration;
                        long n = 0;
                        long t = System.nanoTime();
                        while (t < end) {
                            c.read32(BenchLatency.GPIO_BAR, 0);
                            long now = System.nanoTime();
                            if (counts[index] < cap) {
                                samples[index][counts[index]++] = now - t;
                            }
                            t = now;
                            n++;
                        }
                        ops[index] = n;
                    } catch (Exception e) {
                        failure.set(e);
                    }
                }));
            }
            long begin = System.nanoTime();
            start.countDown();
            for (Thread t : threads) {
                t.join();
            }
            long elapsed = System.nanoTime() - begin;
            if (failure.get() != null) {
                throw failure.get();
            }
            long rss = status(pid, "VmRSS:");
            long threadCount = status(pid, "Threads:");
            int total = Arrays.stream(counts).sum();
            long[] all = new long[total];
            int at = 0;
            for (int i = 0; i < devices; i++) {
                System.arraycopy(samples[i], 0, all, at, counts[i]);
                at += counts[i];
            }
            Arrays.sort(all);
            return new long[] {rss, threadCount, Arrays.stream(ops).sum(), elapsed, all[total / 2],
                    all[(int) Math.min(total - 1, (long) (total * 0.99))], all[total - 1]};
        } finally {
            clients.forEach(VfioUserClient::close);
            if (server != null) {
                server.destroy();
                server.waitFor();
            }
        }
    }

    /** A number from /proc/PID/status (kB for memory fields). */
    static long status(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
            }
        }
        return -1;
    }

    public static void print(Result r, PrintStream out) {
        out.println("| devices | server RSS, 1 device | server RSS, all | per extra device | server threads | ops/s (all clients) | latency p50 | p99 | max | p50 with 1 client |");
        out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        out.println(String.format(Locale.ROOT, "| %d | %.1f MiB | %.1f MiB | %.0f KiB | %d | %,.0f | %.1f µs | %.1f µs | %.1f µs | %.1f µs |",
                r.devices(), r.rssOneKiB() / 1024.0, r.rssAllKiB() / 1024.0, r.perDeviceKiB(), r.threadsAll(),
                r.ops() / r.seconds(), r.p50(), r.p99(), r.max(), r.singleP50()));
    }
}
