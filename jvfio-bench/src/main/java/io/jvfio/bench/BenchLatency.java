package io.jvfio.bench;

import io.jvfio.client.ClientOptions;
import io.jvfio.client.DmaBuffer;
import io.jvfio.client.Interrupts;
import io.jvfio.client.MappedRegion;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.CpuAffinity;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * {@code jvfio bench latency}: end-to-end costs of the message path and of the shared-memory paths,
 * jvfio next to libvfio-user and next to the floors (an AF_UNIX ping-pong between two processes,
 * a shared-memory ping-pong), with the client and the server on one CPU and on two.
 *
 * <p>Every server runs in a child process ({@link BenchServe#main}), pinned with
 * sched_setaffinity; the bench (the client) pins itself. Each figure is the mean of one run of
 * {@code ops} operations; a row shows the minimum, median and maximum over {@code runs} runs.
 */
public final class BenchLatency {
    private BenchLatency() {}

    static final int GPIO_BAR = 2;

    public enum Placement {
        ONE_CPU("one CPU"), CROSS_CPU("two CPUs"), IN_PROCESS("in-process");

        final String label;

        Placement(String label) {
            this.label = label;
        }
    }

    /**
     * {@code nativeEchoExec}: a program (not part of jvfio) started as {@code PROGRAM SOCKET} that answers
     * each 16-byte message on SOCKET with the same 16 bytes; its ping-pong is the kernel's floor.
     */
    public record Options(int ops, int runs, List<Placement> placements, Path lvuSocket, Path lvuExec, boolean inProcess,
                   long dmaBytes, int dmaIterations, Path nativeEchoExec) {}

    /**
     * The floor of the trapped rows: a 16-byte ping-pong with the echo in a JVM like jvfio's server. Across CPUs
     * it bounds servers in a JVM only: a server woken on an idle CPU pays for its working set, and a JVM's is
     * larger than a C program's (docs/performance.md, "What the floors bound"), so libvfio-user's rows are
     * not measured against it.
     */
    static final String JVM_FLOOR = "ping-pong 16 B, JVM echo (floor)";
    /** The kernel's floor, with {@code --native-echo-exec}: the same ping-pong with a native echo. */
    static final String NATIVE_FLOOR = "ping-pong 16 B, native echo (floor)";

    /** One measured quantity; {@code unit} is "µs", "ns", "GB/s". */
    public record Row(Placement placement, String target, String what, double min, double median, double max, String unit) {
        String key() {
            return placement + "/" + target + "/" + what;
        }
    }

    /** A server the bench talks to. */
    private record Server(String name, Process process, long pid, Path socket) {}

    interface Op {
        void run() throws Exception;
    }

    static BitSet parseCpus(String list) {
        BitSet s = new BitSet();
        for (String part : list.split(",")) {
            String[] range = part.trim().split("-");
            int from = Integer.parseInt(range[0]);
            int to = range.length > 1 ? Integer.parseInt(range[1]) : from;
            s.set(from, to + 1);
        }
        return s;
    }

    public static List<Row> run(Options o, PrintStream log) throws Exception {
        BitSet all = CpuAffinity.get(0);
        int first = all.nextSetBit(0);
        int second = all.nextSetBit(first + 1);
        Path dir = Files.createTempDirectory("jvfio-bench-");
        List<Server> servers = new ArrayList<>();
        List<AutoCloseable> open = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        try {
            Server echo = start(o, dir, "echo", servers);
            Server gpio = start(o, dir, "gpio", servers);
            Server bench = start(o, dir, "bench", servers);
            Server lvu = null;
            if (o.lvuExec() != null) {
                Path socket = dir.resolve("lvu.sock");
                Process p = new ProcessBuilder(o.lvuExec().toString(), socket.toString())
                        .redirectErrorStream(true).redirectOutput(dir.resolve("lvu.log").toFile()).start();
                lvu = new Server("libvfio-user", p, p.pid(), socket);
                servers.add(lvu);
            } else if (o.lvuSocket() != null) {
                lvu = new Server("libvfio-user", null, -1, o.lvuSocket());
            }

            UnixSocket echoSocket = connect(echo.socket());
            open.add(echoSocket);
            UnixSocket nativeEchoSocket = null;
            if (o.nativeEchoExec() != null) {
                Path socket = dir.resolve("native-echo.sock");
                Process p = new ProcessBuilder(o.nativeEchoExec().toString(), socket.toString())
                        .redirectErrorStream(true).redirectOutput(dir.resolve("native-echo.log").toFile()).start();
                servers.add(new Server("native echo", p, p.pid(), socket));
                nativeEchoSocket = connect(socket);
                open.add(nativeEchoSocket);
            }
            VfioUserClient gpioClient = VfioUserClient.open(connect(gpio.socket()), ClientOptions.defaults());
            open.add(gpioClient);
            VfioUserClient benchClient = VfioUserClient.open(connect(bench.socket()), ClientOptions.defaults());
            open.add(benchClient);
            VfioUserClient lvuClient = null;
            if (lvu != null) {
                UnixSocket s = connect(lvu.socket());
                servers.remove(lvu);
                lvu = new Server(lvu.name(), lvu.process(), s.peerCredentials().pid(), lvu.socket()); // pinned like ours
                servers.add(lvu);
                lvuClient = VfioUserClient.open(s, ClientOptions.defaults());
                open.add(lvuClient);
            }

            MappedRegion mapped = benchClient.mapRegion(BenchDevice.SHARED_BAR);
            open.add(mapped);
            MemorySegment shared = mapped.segment(BenchDevice.SHARED_OFFSET, BenchDevice.PAGE).orElseThrow();
            Interrupts irqs = benchClient.interrupts(Vfio.PCI_INTX_IRQ_INDEX, 1);
            open.add(irqs);
            DmaBuffer dmaMapped = benchClient.allocateDma(0x1000_0000L, o.dmaBytes());
            open.add(dmaMapped);
            MemorySegment privateMemory = Arena.ofAuto().allocate(o.dmaBytes(), 4096);
            benchClient.registerMemory(0x2000_0000L, privateMemory, Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE);

            for (Placement placement : o.placements()) {
                if (placement == Placement.CROSS_CPU && second < 0) {
                    log.println("bench: only one CPU available; skipping the two-CPU placement");
                    continue;
                }
                if (placement != Placement.IN_PROCESS) {
                    BitSet serverCpus = CpuAffinity.single(first);
                    BitSet clientCpus = CpuAffinity.single(placement == Placement.ONE_CPU ? first : second);
                    for (Server s : servers) {
                        if (s.pid() > 0) {
                            CpuAffinity.pinPid(s.pid(), serverCpus);
                        }
                    }
                    CpuAffinity.pinProcess(clientCpus);
                }
                log.println("bench: " + placement.label);
                Measure m = new Measure(o, placement, rows, log);
                MemorySegment ping = Arena.ofAuto().allocate(BenchServe.ECHO_REQUEST, 8);
                List<Fd> noFds = new ArrayList<>();
                // Runs of the floor, jvfio and libvfio-user alternate, so a drift of the machine hits all alike.
                List<Named> trapped = new ArrayList<>();
                trapped.add(new Named("AF_UNIX", JVM_FLOOR, () -> {
                    echoSocket.send(ping);
                    echoSocket.receiveFully(ping, noFds);
                }));
                if (nativeEchoSocket != null) {
                    UnixSocket nativeEcho = nativeEchoSocket;
                    trapped.add(new Named("AF_UNIX", NATIVE_FLOOR, () -> {
                        nativeEcho.send(ping);
                        nativeEcho.receiveFully(ping, noFds);
                    }));
                }
                trapped.addAll(regionOps("jvfio", gpioClient));
                if (lvuClient != null) {
                    trapped.addAll(regionOps("libvfio-user", lvuClient));
                }
                m.interleaved(trapped, placement == o.placements().getFirst() ? Math.max(o.ops(), 20_000) : o.ops() / 2);
                VfioUserClient bc = benchClient;
                m.nanos("jvfio", "mmapped BAR read 8 B", 2_000_000,
                        () -> { long ignored = (long) BenchDevice.LONG.getVolatile(shared, 0x800L); });
                m.nanos("jvfio", "mmapped BAR write 8 B", 2_000_000,
                        () -> BenchDevice.LONG.setVolatile(shared, 0x808L, 1L));
                if (placement != Placement.ONE_CPU) {
                    spinPair(m, bc, shared, BenchDevice.CMD_POLL_FLOOR, BenchDevice.FLOOR_PING, BenchDevice.FLOOR_PONG,
                            "shared memory", "ping-pong (floor)");
                    spinPair(m, bc, shared, BenchDevice.CMD_POLL_DOORBELL, BenchDevice.DOORBELL, BenchDevice.COMPLETION,
                            "jvfio", "polled doorbell round trip");
                }
                interrupts(m, bc, irqs, shared);
                // Each group warms up in turns, then does run r of every row before run r + 1 of any: the
                // memory bandwidth of these machines drifts by 2x within seconds, and so hits a row and its floor alike.
                long size = o.dmaBytes();
                m.bandwidths(List.of(
                        deviceCopy(bc, "memcpy in the server (floor)", BenchDevice.CMD_MEMCPY, 0, size, o.dmaIterations(), 0),
                        deviceCopy(bc, "DMA read, mapped window", BenchDevice.CMD_DMA_READ, 0x1000_0000L, size, o.dmaIterations(), 0),
                        deviceCopy(bc, "DMA write, mapped window", BenchDevice.CMD_DMA_WRITE, 0x1000_0000L, size, o.dmaIterations(), 0)));
                int messageIterations = Math.max(1, o.dmaIterations() / 4);
                m.bandwidths(List.of(
                        socketFloor(echoSocket, messageIterations * size, MESSAGE_DMA_WARMUP_BYTES),
                        deviceCopy(bc, "DMA read by message", BenchDevice.CMD_DMA_READ, 0x2000_0000L, size, messageIterations,
                                MESSAGE_DMA_WARMUP_BYTES),
                        deviceCopy(bc, "DMA write by message", BenchDevice.CMD_DMA_WRITE, 0x2000_0000L, size, messageIterations,
                                MESSAGE_DMA_WARMUP_BYTES)));
            }
        } finally {
            try {
                CpuAffinity.pinProcess(all);
            } catch (LinuxException ignored) {
                // best effort
            }
            for (int i = open.size() - 1; i >= 0; i--) {
                try {
                    open.get(i).close();
                } catch (Exception ignored) {
                    // going away anyway
                }
            }
            for (Server s : servers) {
                if (s.process() != null) {
                    s.process().destroy();
                    s.process().waitFor();
                }
            }
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return rows;
    }

    record Named(String target, String what, Op op) {}

    private static List<Named> regionOps(String target, VfioUserClient c) {
        return List.of(new Named(target, "GPIO read 1 B", () -> c.read8(GPIO_BAR, 0)),
                new Named(target, "GPIO write 1 B", () -> c.write8(GPIO_BAR, 0, 0x5a)),
                new Named(target, "GPIO read 4 B", () -> c.read32(GPIO_BAR, 0)),
                new Named(target, "GPIO write 4 B", () -> c.write32(GPIO_BAR, 0, 0x5a)));
    }

    /** A shared-memory round trip: ring {@code out}, spin until the device's poller answers in {@code in}. */
    private static void spinPair(Measure m, VfioUserClient c, MemorySegment shared, int mode, long out, long in,
            String target, String what) throws Exception {
        Op roundTrip = startRoundTrips(c, shared, mode, out, in, what);
        try {
            m.latency(target, what, roundTrip);
        } finally {
            stopRoundTrips(c);
        }
    }

    /**
     * Starts the bench device's poller in {@code mode} ({@link BenchDevice#CMD_POLL_FLOOR}: the
     * shared-memory floor; {@link BenchDevice#CMD_POLL_DOORBELL}) and returns one round trip: a new
     * value stored at {@code out}, then spinning until the poller answers it at {@code in}.
     * {@link #stopRoundTrips} ends it. Both spin: measure with the two sides on two CPUs.
     */
    static Op startRoundTrips(VfioUserClient c, MemorySegment shared, int mode, long out, long in, String what) throws Exception {
        c.write32(BenchDevice.REGS_BAR, BenchDevice.CMD, mode);
        Thread.sleep(20); // let the poller take its first look
        long[] seq = {(long) BenchDevice.LONG.getVolatile(shared, out)};
        return () -> {
            long v = ++seq[0];
            BenchDevice.LONG.setVolatile(shared, out, v);
            long deadline = 0;
            int spins = 0;
            while ((long) BenchDevice.LONG.getVolatile(shared, in) != v) {
                Thread.onSpinWait();
                if (++spins == 1 << 16) {
                    spins = 0;
                    if (deadline == 0) {
                        deadline = System.nanoTime() + 5_000_000_000L;
                    } else if (System.nanoTime() > deadline) {
                        throw new IOException(what + ": the device's poller did not answer");
                    }
                }
            }
        };
    }

    static void stopRoundTrips(VfioUserClient c) throws IOException {
        c.write32(BenchDevice.REGS_BAR, BenchDevice.CMD, BenchDevice.CMD_POLL_STOP);
    }

    /** Device raises INTx (after a delay, from its own thread) → the client's eventfd read returns. */
    private static void interrupts(Measure m, VfioUserClient c, Interrupts irqs, MemorySegment shared) throws Exception {
        c.write64(BenchDevice.REGS_BAR, BenchDevice.DELAY_NANOS, 200_000);
        m.samples("jvfio", "interrupt: device raises → client wakes", Math.min(400, m.o.ops()), () -> {
            c.write32(BenchDevice.REGS_BAR, BenchDevice.CMD, BenchDevice.CMD_IRQ);
            irqs.eventfd(0).read();
            long woke = System.nanoTime();
            long raised = (long) BenchDevice.LONG.getVolatile(shared, BenchDevice.IRQ_STAMP);
            c.unmaskIntx();
            return woke - raised;
        });
    }

    /**
     * Bytes each message-DMA row (and its socket floor) moves while it warms up: 40,000 messages of
     * 64 KiB. The Java code run per message in each JVM must be compiled by C2, as the trapped
     * accesses are; on one CPU, where the compiler threads share the CPU, that took over 20,000.
     */
    static final long MESSAGE_DMA_WARMUP_BYTES = 40_000L * (64 << 10);
    /** A group's warm-up is spread over this many turns of all its rows. */
    static final int WARMUP_TURNS = 4;
    /**
     * Idle time between a group's warm-up and its runs: the JIT compilers of the four JVMs finish
     * what the warm-up queued. On one CPU they otherwise compile during the first runs, on the
     * measured CPU, and made the floor and the message rows 2x slower there.
     */
    static final long SETTLE_MILLIS = 2000;
    /** The size of the socket floor's replies, as the largest DMA_READ the server asks for. */
    private static final int SOCKET_FLOOR_CHUNK = 64 << 10;

    /** A bandwidth row of a group: one warm-up turn, and one timed run (GB/s). */
    record Bandwidth(String target, String what, Op warmUpTurn, Rate run) {}

    interface Rate {
        double gbps() throws Exception;
    }

    /**
     * The AF_UNIX floor of message DMA: a 16-byte request, a 64 KiB reply, one at a time, between
     * this process and the echo server; {@code bytes} per run, after {@code warmupBytes}.
     */
    private static Bandwidth socketFloor(UnixSocket echo, long bytes, long warmupBytes) {
        MemorySegment reply = Arena.ofAuto().allocate(SOCKET_FLOOR_CHUNK, 64);
        MemorySegment request = Arena.ofAuto().allocate(BenchServe.ECHO_REQUEST, 8);
        request.set(ValueLayout.JAVA_LONG, 0, SOCKET_FLOOR_CHUNK);
        List<Fd> noFds = new ArrayList<>();
        long ops = Math.max(1, bytes / SOCKET_FLOOR_CHUNK);
        long warmupOps = Math.max(ops, warmupBytes / SOCKET_FLOOR_CHUNK);
        Op one = () -> {
            echo.send(request);
            echo.receiveFully(reply, noFds);
        };
        return new Bandwidth("AF_UNIX", (SOCKET_FLOOR_CHUNK >> 10) + " KiB request/reply (floor)", () -> {
            for (long i = 0; i < Math.max(1, warmupOps / WARMUP_TURNS); i++) {
                one.run();
            }
        }, () -> {
            long start = System.nanoTime();
            for (long i = 0; i < ops; i++) {
                one.run();
            }
            return (double) ops * SOCKET_FLOOR_CHUNK / (System.nanoTime() - start);
        });
    }

    /**
     * A copy the bench device times itself: {@code iterations} copies of {@code bytes} per run,
     * after at least {@code warmupBytes} (and one run's worth) of warm-up.
     */
    private static Bandwidth deviceCopy(VfioUserClient c, String what, int cmd, long iova, long bytes, int iterations,
            long warmupBytes) {
        long warmup = Math.max(iterations, warmupBytes / bytes);
        int perTurn = (int) Math.min(Integer.MAX_VALUE, Math.max(1, (warmup + WARMUP_TURNS - 1) / WARMUP_TURNS));
        String size = bytes >= 1 << 20 ? (bytes >> 20) + " MiB" : (bytes >> 10) + " KiB";
        return new Bandwidth("jvfio", what + " (" + size + ")", () -> deviceDma(c, what, cmd, iova, bytes, perTurn),
                () -> (double) bytes * iterations / deviceDma(c, what, cmd, iova, bytes, iterations));
    }

    /** Has the bench device make {@code iterations} copies; the nanoseconds they took by its own clock. */
    private static long deviceDma(VfioUserClient c, String what, int cmd, long iova, long bytes, int iterations)
            throws Exception {
        c.write64(BenchDevice.REGS_BAR, BenchDevice.IOVA, iova);
        c.write64(BenchDevice.REGS_BAR, BenchDevice.LENGTH, bytes);
        c.write32(BenchDevice.REGS_BAR, BenchDevice.ITERATIONS, iterations);
        c.write32(BenchDevice.REGS_BAR, BenchDevice.CMD, cmd);
        int status;
        // Generous: the first warm-up turn of message DMA runs interpreted (~0.1 GB/s).
        long deadline = System.nanoTime() + 120_000_000_000L;
        while ((status = c.read32(BenchDevice.REGS_BAR, BenchDevice.STATUS)) == BenchDevice.STATUS_BUSY) {
            if (System.nanoTime() > deadline) {
                throw new IOException(what + ": the device did not finish");
            }
            Thread.sleep(10); // the device times itself: polling often only disturbs it
        }
        if (status != BenchDevice.STATUS_DONE) {
            throw new IOException(what + ": the device failed (status " + status + ")");
        }
        return c.read64(BenchDevice.REGS_BAR, BenchDevice.RESULT_NANOS);
    }

    /** Runs measurements and collects rows. */
    private static final class Measure {
        final Options o;
        final Placement placement;
        final List<Row> rows;
        final PrintStream log;

        Measure(Options o, Placement placement, List<Row> rows, PrintStream log) {
            this.o = o;
            this.placement = placement;
            this.rows = rows;
            this.log = log;
        }

        /** µs per operation of each, warmed up first; run r of every one before run r + 1 of any. */
        void interleaved(List<Named> ops, int warmup) throws Exception {
            for (Named n : ops) {
                for (int i = 0; i < warmup; i++) {
                    n.op().run();
                }
            }
            double[][] perRun = new double[ops.size()][o.runs()];
            for (int r = 0; r < o.runs(); r++) {
                for (int k = 0; k < ops.size(); k++) {
                    Op op = ops.get(k).op();
                    long start = System.nanoTime();
                    for (int i = 0; i < o.ops(); i++) {
                        op.run();
                    }
                    perRun[k][r] = (System.nanoTime() - start) / 1000.0 / o.ops();
                }
            }
            for (int k = 0; k < ops.size(); k++) {
                add(ops.get(k).target(), ops.get(k).what(), perRun[k], "µs");
            }
        }

        /** µs per operation: warm-up, then {@code runs} runs of {@code ops}. */
        void latency(String target, String what, Op op) throws Exception {
            double[] perRun = timed(op, o.ops(), Math.max(o.ops() / 2, 200));
            for (int i = 0; i < perRun.length; i++) {
                perRun[i] /= 1000.0;
            }
            add(target, what, perRun, "µs");
        }

        void nanos(String target, String what, int ops, Op op) throws Exception {
            add(target, what, timed(op, ops, ops), "ns");
        }

        /** GB/s of each: warm-up in turns, a pause to settle, then run r of every row before run r + 1 of any. */
        void bandwidths(List<Bandwidth> group) throws Exception {
            for (int turn = 0; turn < WARMUP_TURNS; turn++) {
                for (Bandwidth b : group) {
                    b.warmUpTurn().run();
                }
            }
            Thread.sleep(SETTLE_MILLIS);
            double[][] gbps = new double[group.size()][o.runs()];
            for (int r = 0; r < o.runs(); r++) {
                for (int k = 0; k < group.size(); k++) {
                    gbps[k][r] = group.get(k).run().gbps();
                }
            }
            for (int k = 0; k < group.size(); k++) {
                add(group.get(k).target(), group.get(k).what(), gbps[k], "GB/s");
            }
        }

        interface Sample {
            long take() throws Exception;
        }

        /** Per run, the median of {@code count} samples (ns), in µs. */
        void samples(String target, String what, int count, Sample sample) throws Exception {
            for (int i = 0; i < Math.min(50, count); i++) {
                sample.take();
            }
            double[] perRun = new double[o.runs()];
            long[] s = new long[count];
            for (int r = 0; r < o.runs(); r++) {
                for (int i = 0; i < count; i++) {
                    s[i] = sample.take();
                }
                Arrays.sort(s);
                perRun[r] = s[count / 2] / 1000.0;
            }
            add(target, what, perRun, "µs");
        }

        /** Mean ns per op of each run. */
        private double[] timed(Op op, int ops, int warmup) throws Exception {
            for (int i = 0; i < warmup; i++) {
                op.run();
            }
            double[] perRun = new double[o.runs()];
            for (int r = 0; r < o.runs(); r++) {
                long start = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    op.run();
                }
                perRun[r] = (double) (System.nanoTime() - start) / ops;
            }
            return perRun;
        }

        void add(String target, String what, double[] values, String unit) {
            double[] v = values.clone();
            Arrays.sort(v);
            Row row = new Row(placement, target, what, v[0], v[v.length / 2], v[v.length - 1], unit);
            rows.add(row);
            log.println("  " + format(row));
        }
    }

    private static Server start(Options o, Path dir, String kind, List<Server> servers) throws IOException {
        Path socket = dir.resolve(kind + ".sock");
        Server s;
        if (o.inProcess()) {
            BenchServe.start(kind, socket);
            s = new Server(kind, null, -1, socket);
        } else {
            Process p = spawnServe(List.of(kind, "--socket", socket.toString())).start();
            s = new Server(kind, p, p.pid(), socket);
        }
        servers.add(s);
        return s;
    }

    /** A child JVM running {@link BenchServe#main} with {@code args}, on the same JVM and module or class path as this one. */
    static ProcessBuilder spawnServe(List<String> args) {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isBlank()) {
            command.addAll(List.of("--enable-native-access=io.jvfio.linux", "-p", modulePath, "-m", "io.jvfio.bench/" + BenchServe.class.getName()));
        } else {
            command.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), BenchServe.class.getName()));
        }
        command.addAll(args);
        return new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT);
    }

    /** Connects once the server listens (it may still be starting). */
    static UnixSocket connect(Path socket) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                return UnixSocket.connect(socket);
            } catch (LinuxException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    // ------------------------------------------------------------------ output

    static String format(Row r) {
        String f = r.unit().equals("GB/s") || r.unit().equals("ns") ? "%.2f" : "%.1f";
        return String.format(Locale.ROOT, "%-10s %-13s %-44s " + f + " / " + f + " / " + f + " %s", r.placement().label,
                r.target(), r.what(), r.min(), r.median(), r.max(), r.unit());
    }
}
