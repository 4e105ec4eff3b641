package io.jvfio.bench;

import io.jvfio.devices.virtio.NotifyMode;
import io.jvfio.devices.virtio.VirtioBlk;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.qemu.VirtioBlkInitramfs;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Measures the Java virtio-blk disk against QEMU's own virtio-blk-pci on the same image and the
 * same guest (TCG, shared memfd RAM): fio in the guest runs sequential 1 MiB writes and reads and
 * random 4 KiB writes and reads on /dev/vda (O_DIRECT, libaio), each for a fixed time, and one
 * table shows MB/s, IOPS and the jvfio/QEMU ratio. Not a test: run it with
 * {@code jvfio bench virtio-blk}.
 */
public final class VirtioBlkBench {
    /** The workload: name, fio arguments. Writes first, so the reads find written data. */
    static final Map<String, String> JOBS = new LinkedHashMap<>();

    static {
        JOBS.put("seq-write-1M", "--rw=write --bs=1M --iodepth=4");
        JOBS.put("seq-read-1M", "--rw=read --bs=1M --iodepth=4");
        JOBS.put("rand-write-4k", "--rw=randwrite --bs=4k --iodepth=16");
        JOBS.put("rand-read-4k", "--rw=randread --bs=4k --iodepth=16");
    }

    /** One job's outcome. */
    public record Measurement(String job, double megabytesPerSecond, double iops) {}

    /** One configuration's outcomes, by job. */
    public record Run(String target, Map<String, Measurement> results) {}

    /** What to run: each notify mode of jvfio's device, then QEMU's device with each cache mode. */
    public record Options(int seconds, long diskBytes, List<String> qemuCaches, List<NotifyMode> notifyModes,
                          int queues, boolean sharedMemory) {}

    /** Runs every configuration: jvfio in each notify mode, then QEMU's device with each cache mode. */
    public static List<Run> run(GuestToolchain tc, Options options, PrintStream log) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(tc.runRoot().resolve("virtio-blk-bench-" + ProcessHandle.current().pid()));
        Path image = dir.resolve("bench.img");
        List<Run> runs = new ArrayList<>();
        try {
            Files.deleteIfExists(image);
            Initramfs initramfs = VirtioBlkInitramfs.builder(tc, script(options.seconds()))
                    .program("/usr/bin/fio")
                    .gzip(false)
                    .build(dir.resolve("initramfs.img"));
            BenchFiles.allocate(image, options.diskBytes());
            for (NotifyMode mode : options.notifyModes()) {
                VirtioBlk disk = VirtioBlk.builder(image).queues(options.queues())
                        .notifyMode(mode).build();
                try (VfioUserServer server = VfioUserServer.bind(dir.resolve("bench.sock"), disk, ServerOptions.defaults())) {
                    server.start();
                    GuestOptions guest = guestOptions(initramfs, options).vfioUserDevice(server.socketPath().orElseThrow());
                    runs.add(new Run("jvfio " + mode.name().toLowerCase(Locale.ROOT), boot(tc, guest, log)));
                } finally {
                    disk.shutdown();
                }
            }
            for (String cache : options.qemuCaches()) {
                String drive = "file=%s,if=none,id=d,format=raw,cache=%s,aio=threads".formatted(tc.toChrootPath(image), cache);
                String device = "virtio-blk-pci,drive=d" + (options.queues() > 1 ? ",num-queues=" + options.queues() : "");
                GuestOptions guest = guestOptions(initramfs, options).extraArgs("-drive", drive, "-device", device);
                runs.add(new Run("qemu cache=" + cache, boot(tc, guest, log)));
            }
        } finally {
            BenchFiles.deleteTree(dir);
        }
        return runs;
    }

    private static GuestOptions guestOptions(Initramfs initramfs, Options options) {
        return QemuGuest.options().initramfs(initramfs.path()).sharedMemory(options.sharedMemory()).memoryMiB(1024)
                .timeout(Duration.ofSeconds(120 + 6L * options.seconds() * JOBS.size()));
    }

    private static Map<String, Measurement> boot(GuestToolchain tc, GuestOptions options, PrintStream log)
            throws IOException, InterruptedException {
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(tc, options)) {
            guest.launch();
            result = guest.awaitExit();
        }
        if (!result.passed()) {
            log.println(result.console());
            throw new IOException("benchmark guest failed: " + result.describe());
        }
        Map<String, Measurement> measured = new LinkedHashMap<>();
        for (String line : result.results()) {
            if (line.startsWith("fio ")) {
                Measurement m = parseTerse(line.substring(4));
                measured.put(m.job(), m);
                log.printf("  %-14s %9.1f MB/s %9.0f IOPS%n", m.job(), m.megabytesPerSecond(), m.iops());
            }
        }
        return measured;
    }

    /** One job's line of fio's terse output, in decimal MB/s. */
    static Measurement parseTerse(String line) {
        FioTerse job = FioTerse.parse(line);
        return new Measurement(job.job(), job.kiBPerSecond() * 1024 / 1e6, job.iops());
    }

    private static String script(int seconds) {
        StringBuilder s = new StringBuilder("""
                # fio on /dev/vda, one job at a time; each result line is fio's terse output.
                set -e
                [ -b /dev/vda ] || { echo "no /dev/vda"; exit 1; }
                echo "JVFIO-RESULT: sectors $(cat /sys/block/vda/size)"
                """);
        for (var job : JOBS.entrySet()) {
            s.append("out=$(/usr/bin/fio --name=%s --filename=/dev/vda --ioengine=libaio --direct=1 %s --time_based --runtime=%d --ramp_time=1 --output-format=terse --terse-version=3)\n"
                    .formatted(job.getKey(), job.getValue(), seconds));
            s.append("echo \"JVFIO-RESULT: fio $out\"\n");
        }
        return s.toString();
    }

    /** One table: a row per job, columns per target, and jvfio/QEMU ratios against the first QEMU run. */
    public static void print(List<Run> runs, PrintStream out) {
        Run qemu = runs.stream().filter(r -> r.target().startsWith("qemu")).findFirst().orElse(null);
        StringBuilder header = new StringBuilder("%-14s".formatted("job"));
        for (Run r : runs) {
            header.append(" | %-26s".formatted(r.target()));
        }
        for (Run r : runs) {
            if (qemu != null && !r.target().startsWith("qemu")) {
                header.append(" | %-13s".formatted(r.target().replace("jvfio ", "") + "/qemu"));
            }
        }
        out.println(header);
        out.println("-".repeat(header.length()));
        for (String job : JOBS.keySet()) {
            StringBuilder row = new StringBuilder("%-14s".formatted(job));
            for (Run r : runs) {
                Measurement m = r.results().get(job);
                row.append(m == null ? " | %-26s".formatted("-")
                        : " | %8.1f MB/s %8.0f IOPS".formatted(m.megabytesPerSecond(), m.iops()));
            }
            for (Run r : runs) {
                if (qemu != null && !r.target().startsWith("qemu")) {
                    Measurement m = r.results().get(job), q = qemu.results().get(job);
                    row.append(m == null || q == null || q.iops() == 0 ? " | %-13s".formatted("-")
                            : " | %12.2fx".formatted(m.iops() / q.iops()));
                }
            }
            out.println(row);
        }
    }
}
