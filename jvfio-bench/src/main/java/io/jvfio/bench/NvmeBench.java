package io.jvfio.bench;

import io.jvfio.devices.nvme.DoorbellStatistics;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * {@code jvfio bench nvme}: the Java NVMe controller with trapped doorbells, the same with shadow
 * doorbells, and QEMU's built-in {@code -device nvme}, one after the other on the same image file
 * and the same guest (TCG, one vCPU by default, so one I/O queue): one boot per target, each running fio on
 * /dev/nvme0n1 for every {@link Row} (O_DIRECT, libaio, time-based). For the jvfio targets the
 * bench reads the controller's {@link DoorbellStatistics} as each row starts and ends (the guest
 * says when, and waits a second after saying it), so each row also gets its trapped doorbell
 * writes per I/O command. {@link NvmeBenchReport} prints the table and the goals.
 */
public final class NvmeBench {
    private static final String SERIAL = "JVBENCH0001";
    /** Boot, module load and fio's own start-up under TCG, per boot and per row. */
    private static final int BOOT_SECONDS = 180, ROW_OVERHEAD_SECONDS = 20;

    /** One fio job: its name in the table and in --rows, and its access pattern. */
    public enum Row {
        RANDREAD_4K_QD1("randread-4k-qd1", "randread", "4k", 1),
        RANDREAD_4K_QD32("randread-4k-qd32", "randread", "4k", 32),
        RANDWRITE_4K_QD1("randwrite-4k-qd1", "randwrite", "4k", 1),
        RANDWRITE_4K_QD32("randwrite-4k-qd32", "randwrite", "4k", 32),
        SEQREAD_1M("seqread-1m", "read", "1M", 4),
        SEQWRITE_1M("seqwrite-1m", "write", "1M", 4);

        final String label;
        private final String rw, blockSize;
        final int depth;

        Row(String label, String rw, String blockSize, int depth) {
            this.label = label;
            this.rw = rw;
            this.blockSize = blockSize;
            this.depth = depth;
        }

        public String label() {
            return label;
        }

        String fioArguments() {
            return "--rw=%s --bs=%s --iodepth=%d".formatted(rw, blockSize, depth);
        }

        /** The rows named, comma-separated, in the order given; "all" for every row. */
        public static List<Row> parse(String names) {
            return NvmeBench.parse(names, values(), Row::label, "row");
        }
    }

    /** The three columns: one boot each. */
    public enum Target {
        TRAPPED("trapped", "jvfio trapped"), SHADOW("shadow", "jvfio shadow"), QEMU("qemu", "qemu nvme");

        /** The name in --targets. */
        final String option;
        final String label;

        Target(String option, String label) {
            this.option = option;
            this.label = label;
        }

        public String label() {
            return label;
        }

        boolean jvfio() {
            return this != QEMU;
        }

        /** The targets named (trapped, shadow, qemu), comma-separated, booted in the table's order; "all" for every one. */
        public static List<Target> parse(String names) {
            List<Target> named = NvmeBench.parse(names, values(), t -> t.option, "target");
            return Arrays.stream(values()).filter(named::contains).toList();
        }
    }

    /** Names to constants by {@code label}, in the order given, without repeats; "all" for every constant. */
    private static <E> List<E> parse(String names, E[] values, Function<E, String> label, String what) {
        if (names.strip().equals("all")) {
            return List.of(values);
        }
        List<E> parsed = new ArrayList<>();
        for (String name : names.split(",")) {
            E value = Arrays.stream(values).filter(v -> label.apply(v).equals(name.strip())).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no %s '%s'; %ss: all, %s".formatted(what, name.strip(), what,
                            Arrays.stream(values).map(label).collect(Collectors.joining(", ")))));
            if (!parsed.contains(value)) {
                parsed.add(value);
            }
        }
        return List.copyOf(parsed);
    }

    /**
     * One row on one target: fio's IOPS and MiB/s; for jvfio also the I/O commands the controller
     * took and the trapped doorbell writes (submission and completion) to I/O queues meanwhile,
     * both -1 for QEMU.
     */
    public record Measurement(double iops, double mibPerSecond, long ioCommands, long trappedDoorbells) {
        /** Trapped doorbell writes per I/O command, NaN where not counted. */
        public double doorbellsPerIo() {
            return ioCommands <= 0 || trappedDoorbells < 0 ? Double.NaN : (double) trappedDoorbells / ioCommands;
        }
    }

    /**
     * What ran, what each target measured per row (rows a failed boot did not reach are missing) and
     * why boots failed.
     */
    public record Results(Options options, Map<Target, Map<Row, Measurement>> measured, List<String> failures) {
        public Measurement get(Target target, Row row) {
            Map<Row, Measurement> byRow = measured.get(target);
            return byRow == null ? null : byRow.get(row);
        }
    }

    /**
     * How to run: seconds per row, the image (null: a temporary one of {@code imageBytes}, written
     * once so reads find data), shared or private guest memory (private: jvfio reaches it by DMA
     * messages), the guest's vCPUs (Linux makes an I/O queue per CPU), the rows and the targets.
     */
    public record Options(int seconds, Path image, long imageBytes, boolean sharedMemory, int cpus, List<Row> rows,
                          List<Target> targets) {
        public Options {
            if (seconds < 1) {
                throw new IllegalArgumentException("--seconds must be at least 1");
            }
            if (cpus < 1) {
                throw new IllegalArgumentException("--cpus must be at least 1");
            }
            if (targets.isEmpty()) {
                throw new IllegalArgumentException("no targets to run");
            }
            targets = List.copyOf(targets);
            if (image == null && imageBytes < 1 << 20) {
                throw new IllegalArgumentException("the image needs at least 1 MiB");
            }
            if (rows.isEmpty()) {
                throw new IllegalArgumentException("no rows to run");
            }
            rows = List.copyOf(rows);
        }
    }

    private NvmeBench() {}

    /** Boots the guest once per target, each running every row; progress and failures go to {@code log}. */
    public static Results run(GuestToolchain tc, Options options, PrintStream log) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(tc.runRoot().resolve("nvme-bench-" + ProcessHandle.current().pid()));
        Map<Target, Map<Row, Measurement>> measured = new EnumMap<>(Target.class);
        List<String> failures = new ArrayList<>();
        try {
            Path image = options.image();
            if (image == null) {
                image = dir.resolve("bench.img");
                BenchFiles.allocate(image, options.imageBytes());
            } else if (!Files.isRegularFile(image)) {
                throw new IllegalArgumentException(image + " is not a file");
            }
            String imageInChroot = tc.toChrootPath(image);   // fails early when QEMU could not open it
            Initramfs initramfs = Initramfs.builder(tc).modules("nvme").program("/usr/bin/fio").gzip(false)
                    .script(script(options)).build(dir.resolve("initramfs.img"));
            for (Target target : options.targets()) {
                log.printf("%s:%n", target.label);
                GuestOptions guest = QemuGuest.options().initramfs(initramfs).sharedMemory(options.sharedMemory()).cpus(options.cpus())
                        .memoryMiB(512).timeout(Duration.ofSeconds(
                                BOOT_SECONDS + (long) options.rows().size() * (options.seconds() + ROW_OVERHEAD_SECONDS)));
                Map<Row, Measurement> rows = new EnumMap<>(Row.class);
                measured.put(target, rows);
                try {
                    if (target.jvfio()) {
                        bootJvfio(tc, guest, target, image, dir, options, rows, log);
                    } else {
                        guest.extraArgs("-drive", "file=%s,if=none,id=bench,format=raw,cache=writeback,aio=threads".formatted(imageInChroot),
                                "-device", "nvme,drive=bench,serial=" + SERIAL);
                        boot(tc, guest, null, options, rows, log);
                    }
                } catch (IOException e) {
                    // The other columns are still worth a table: this one keeps the rows it measured.
                    failures.add(target.label + ": " + e.getMessage());
                    log.printf("  %s failed: %s%n", target.label, e.getMessage());
                }
            }
        } finally {
            BenchFiles.deleteTree(dir);
        }
        return new Results(options, measured, List.copyOf(failures));
    }

    private static void bootJvfio(GuestToolchain tc, GuestOptions guest, Target target, Path image, Path dir, Options options,
                                  Map<Row, Measurement> measured, PrintStream log) throws IOException, InterruptedException {
        NvmeController nvme = NvmeController.builder().serial(SERIAL).namespace(BlockImage.open(image, 0, false))
                .shadowDoorbells(target == Target.SHADOW).build();
        try (VfioUserServer server = VfioUserServer.bind(dir.resolve("nvme.sock"), nvme, ServerOptions.defaults())) {
            server.start();
            try {
                boot(tc, guest.vfioUserDevice(server.socketPath().orElseThrow()), nvme.doorbellStatistics(), options, measured, log);
            } finally {
                log.printf("  %s%n", nvme.doorbellStatistics());
            }
        } finally {
            nvme.shutdown();
        }
    }

    /**
     * One boot running every row into {@code measured}; with {@code doorbells}, each row's doorbell
     * counts are read around it. A failed boot keeps the rows it finished, logs the console and throws.
     */
    private static void boot(GuestToolchain tc, GuestOptions options, DoorbellStatistics doorbells, Options bench,
                             Map<Row, Measurement> measured, PrintStream log) throws IOException, InterruptedException {
        Map<Row, long[]> counted = new EnumMap<>(Row.class);
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(tc, options)) {
            guest.launch();
            Duration rowTimeout = Duration.ofSeconds(BOOT_SECONDS + bench.seconds() + ROW_OVERHEAD_SECONDS);
            for (Row row : doorbells == null ? List.<Row>of() : bench.rows()) {
                // A marker that does not come means a guest that died or hangs: awaitExit says which.
                if (!guest.awaitConsoleLine(marker(row, "starts"), rowTimeout)) {
                    break;
                }
                long rings = trappedDoorbells(doorbells), commands = doorbells.ioCommands();
                if (!guest.awaitConsoleLine(marker(row, "done"), rowTimeout)) {
                    break;
                }
                counted.put(row, new long[] {doorbells.ioCommands() - commands, trappedDoorbells(doorbells) - rings});
            }
            result = guest.awaitExit();
        }
        for (String line : result.results()) {
            if (line.startsWith("queues ")) {
                log.printf("  I/O queues: %s%n", line.substring("queues ".length()));
            } else if (line.startsWith("fio ")) {
                FioTerse job = FioTerse.parse(line.substring("fio ".length()));
                Row row = Row.parse(job.job()).getFirst();
                long[] counts = counted.getOrDefault(row, new long[] {-1, -1});
                Measurement m = new Measurement(job.iops(), job.kiBPerSecond() / 1024, counts[0], counts[1]);
                measured.put(row, m);
                log.printf("  %-18s %9.0f IOPS %9.1f MiB/s%s%n", row.label, m.iops(), m.mibPerSecond(),
                        Double.isNaN(m.doorbellsPerIo()) ? "" : " %7.3f trapped doorbells per I/O".formatted(m.doorbellsPerIo()));
            }
        }
        if (!result.passed()) {
            log.println(result.console());
            String lastMarker = result.results().reversed().stream().filter(l -> l.startsWith("row ")).findFirst().orElse("");
            String during = lastMarker.endsWith(" starts") ? " during " + lastMarker.substring("row ".length(), lastMarker.length() - " starts".length()) : "";
            throw new IOException("the guest failed%s (%s); its console is in the log".formatted(during,
                    result.timedOut() ? "timed out" : "exit " + result.exitCode() + ", verdicts " + result.verdicts()));
        }
    }

    private static long trappedDoorbells(DoorbellStatistics doorbells) {
        return doorbells.trappedSubmissionDoorbells() + doorbells.trappedCompletionDoorbells();
    }

    private static Predicate<String> marker(Row row, String what) {
        String line = Initramfs.RESULT_MARKER + "row " + row.label + " " + what;
        return l -> l.strip().endsWith(line);
    }

    /** The guest's script: wait for the namespace, then each row's fio job between two markers. */
    static String script(Options options) {
        StringBuilder s = new StringBuilder("""
                # fio on /dev/nvme0n1, one row at a time. The host reads the controller's doorbell counts
                # at each row's markers; the second after "starts" lets it do so before fio's first I/O.
                set -e
                i=0
                while [ ! -b /dev/nvme0n1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
                [ -b /dev/nvme0n1 ] || { echo "no nvme0n1; block devices: $(ls /sys/block)"; exit 1; }
                echo "JVFIO-RESULT: sectors $(cat /sys/block/nvme0n1/size)"
                echo "JVFIO-RESULT: queues $(ls /sys/block/nvme0n1/mq | wc -l)"
                """);
        for (Row row : options.rows()) {
            s.append("echo \"%srow %s starts\"\nsleep 1\n".formatted(Initramfs.RESULT_MARKER, row.label));
            s.append(("out=$(/usr/bin/fio --name=%s --filename=/dev/nvme0n1 --ioengine=libaio --direct=1 %s --norandommap"
                    + " --randrepeat=0 --time_based --runtime=%d --ramp_time=1 --output-format=terse --terse-version=3)\n")
                    .formatted(row.label, row.fioArguments(), options.seconds()));
            s.append("echo \"%srow %s done\"\n".formatted(Initramfs.RESULT_MARKER, row.label));
            s.append("echo \"%sfio $out\"\n".formatted(Initramfs.RESULT_MARKER));
        }
        return s.toString();
    }
}
