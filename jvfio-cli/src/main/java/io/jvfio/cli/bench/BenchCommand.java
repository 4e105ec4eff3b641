package io.jvfio.cli.bench;

import io.jvfio.bench.BenchLatency;
import io.jvfio.bench.BenchScale;
import io.jvfio.bench.BenchStartup;
import io.jvfio.bench.LatencyReport;
import io.jvfio.bench.NvmeBench;
import io.jvfio.bench.NvmeBenchReport;
import io.jvfio.bench.NvmeDriverBench;
import io.jvfio.bench.VirtioBlkBench;
import io.jvfio.cli.Main;
import io.jvfio.cli.Sizes;
import io.jvfio.devices.virtio.NotifyMode;
import io.jvfio.qemu.GuestToolchain;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jvfio bench ...}: measurements that print a table (not tests). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks that print a table.",
        subcommands = {BenchCommand.VirtioBlk.class, BenchCommand.Nvme.class, BenchCommand.NvmeDriver.class, BenchCommand.Latency.class, BenchCommand.Scale.class,
                BenchCommand.Startup.class, BenchCommand.AotTraining.class})
public final class BenchCommand {

    @Command(name = "latency", mixinStandardHelpOptions = true,
            description = "Trapped region access latency (jvfio GPIO card, libvfio-user's GPIO sample, an AF_UNIX"
                    + " ping-pong floor), mmapped BAR access, a polled doorbell against a shared-memory ping-pong,"
                    + " interrupt latency and DMA bandwidth (mapped and by message, against memcpy and the socket),"
                    + " with client and server on one CPU and on two. Servers run in child processes. Prints a table"
                    + " (min / median / max over the runs) and the goal ratios. Run it on an idle machine.")
    static final class Latency implements Callable<Integer> {
        @Option(names = "--ops", defaultValue = "20000", description = "Operations per run (default: ${DEFAULT-VALUE}).")
        int ops;

        @Option(names = "--runs", defaultValue = "5", description = "Runs per measurement (default: ${DEFAULT-VALUE}).")
        int runs;

        @Option(names = "--placement", defaultValue = "both", paramLabel = "one-cpu|cross-cpu|both",
                description = "Where client and server run (default: ${DEFAULT-VALUE}).")
        String placement;

        @Option(names = "--libvfio-user", paramLabel = "SOCKET",
                description = "Also drive a running libvfio-user GPIO sample (gpio-pci-idio-16) on SOCKET.")
        Path lvuSocket;

        @Option(names = "--libvfio-user-exec", paramLabel = "PROGRAM",
                description = "Start libvfio-user's GPIO sample (e.g. build/samples/gpio-pci-idio-16) and drive it.")
        Path lvuExec;

        @Option(names = "--native-echo-exec", paramLabel = "PROGRAM",
                description = "Start PROGRAM SOCKET, a native echo of 16-byte messages on SOCKET, and measure the kernel's "
                        + "floor beside the JVM echo's (docs/performance.md shows one).")
        Path nativeEchoExec;

        @Option(names = "--dma-size", defaultValue = "1M", paramLabel = "SIZE", description = "Bytes per DMA copy (default: ${DEFAULT-VALUE}).")
        String dmaSize;

        @Option(names = "--dma-iterations", defaultValue = "1024",
                description = "DMA copies per run through the mapped window (default: ${DEFAULT-VALUE}); message DMA makes a quarter as many.")
        int dmaIterations;

        @Option(names = "--in-process", hidden = true, description = "Serve on threads of this process (smoke tests).")
        boolean inProcess;

        @Override
        public Integer call() throws Exception {
            List<BenchLatency.Placement> placements = inProcess ? List.of(BenchLatency.Placement.IN_PROCESS) : switch (placement) {
                case "both" -> List.of(BenchLatency.Placement.ONE_CPU, BenchLatency.Placement.CROSS_CPU);
                case "one-cpu" -> List.of(BenchLatency.Placement.ONE_CPU);
                case "cross-cpu" -> List.of(BenchLatency.Placement.CROSS_CPU);
                default -> throw new IllegalArgumentException("--placement must be one-cpu, cross-cpu or both, not '" + placement + "'");
            };
            var options = new BenchLatency.Options(ops, runs, placements, lvuSocket, lvuExec, inProcess,
                    Sizes.parse(dmaSize, "--dma-size"), dmaIterations, nativeEchoExec);
            LatencyReport.print(BenchLatency.run(options, System.err), System.out);
            return 0;
        }
    }

    @Command(name = "nvme-driver", mixinStandardHelpOptions = true,
            description = {"The Java NVMe driver's perf (jvfio nvme perf, in this JVM) against jvfio serve nvme --null 1G in a JVM"
                    + " of its own, with polled doorbells and with trapped ones: 4 KiB random reads at QD128 polled and with"
                    + " interrupts, at QD1 next to the shared-memory ping-pong floor of bench latency (measured in the same run),"
                    + " and bytes allocated per I/O. The servers run on the first CPU, the driver on the second.",
                    "Prints the table and the goals of issue 16 as met / not met. Run it on an otherwise idle machine."})
    static final class NvmeDriver implements Callable<Integer> {
        @Option(names = "--seconds", defaultValue = "10", paramLabel = "SECONDS",
                description = "Seconds measured per row (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--warmup", defaultValue = "3", paramLabel = "SECONDS",
                description = "Seconds run before measuring each row (default: ${DEFAULT-VALUE}).")
        double warmup;

        @Override
        public Integer call() throws Exception {
            if (seconds <= 0 || warmup < 0) {
                throw new IllegalArgumentException("--seconds must be above 0 and --warmup at least 0");
            }
            NvmeDriverBench.print(NvmeDriverBench.run(new NvmeDriverBench.Options(seconds, warmup), System.err), System.out);
            return 0;
        }
    }

    @Command(name = "scale", mixinStandardHelpOptions = true,
            description = {"One server process with N GPIO cards on N sockets, N clients reading at full speed:",
                    "server memory per device and latency under that load."})
    static final class Scale implements Callable<Integer> {
        @Option(names = "--devices", defaultValue = "64", description = "Devices, sockets and clients (default: ${DEFAULT-VALUE}).")
        int devices;

        @Option(names = "--seconds", defaultValue = "5", description = "Seconds of load (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--in-process", hidden = true, description = "Serve on threads of this process (smoke tests).")
        boolean inProcess;

        @Override
        public Integer call() throws Exception {
            BenchScale.print(BenchScale.run(devices, seconds, inProcess, System.err), System.out);
            return 0;
        }
    }

    @Command(name = "startup", mixinStandardHelpOptions = true,
            description = "Time from exec of `LAUNCHER serve gpio` to its socket listening, without and with the AOT cache.")
    static final class Startup implements Callable<Integer> {
        @Option(names = "--launcher", defaultValue = "./jvfio", paramLabel = "PATH", description = "The jvfio launcher (default: ${DEFAULT-VALUE}).")
        Path launcher;

        @Option(names = "--runs", defaultValue = "7", description = "Starts per mode (default: ${DEFAULT-VALUE}).")
        int runs;

        @Override
        public Integer call() throws Exception {
            BenchStartup.print(BenchStartup.run(launcher, runs, System.err), System.out);
            return 0;
        }
    }

    @Command(name = "aot-training", hidden = true, description = "The workload the launcher records its AOT cache with.")
    static final class AotTraining implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            BenchStartup.train(socket -> Main.run("serve", "gpio", "--socket", socket.toString()));
            return 0;
        }
    }

    @Command(name = "virtio-blk", mixinStandardHelpOptions = true,
            description = {"Boot a guest and run fio (sequential 1 MiB, random 4 KiB; read and write) against jvfio's",
                    "virtio-blk and against QEMU's built-in virtio-blk on the same image; print MB/s, IOPS and the ratio.",
                    "Needs the guest toolchain (scripts/provision-guest.sh) and root. Run it on an otherwise idle machine."})
    static final class VirtioBlk implements Callable<Integer> {
        @Option(names = "--seconds", defaultValue = "10", description = "Seconds per fio job (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Option(names = "--size", defaultValue = "1G", paramLabel = "SIZE", description = "Image size, e.g. 1G (default: ${DEFAULT-VALUE}).")
        String size;

        @Option(names = "--qemu-cache", defaultValue = "writeback", paramLabel = "writeback|none|both",
                description = "Cache mode of QEMU's own device (default: ${DEFAULT-VALUE}).")
        String qemuCache;

        @Option(names = "--notify", defaultValue = "trapped", paramLabel = "trapped|polled|both",
                description = "Queue notification mode(s) of jvfio's device (default: ${DEFAULT-VALUE}).")
        String notify;

        @Option(names = "--queues", defaultValue = "1", description = "Virtqueues (default: ${DEFAULT-VALUE}).")
        int queues;

        @Option(names = "--no-shared-memory", description = "Private guest RAM: jvfio reaches it by DMA messages.")
        boolean privateMemory;

        @Override
        public Integer call() throws Exception {
            List<String> caches = switch (qemuCache) {
                case "both" -> List.of("writeback", "none");
                case "writeback", "none" -> List.of(qemuCache);
                default -> throw new IllegalArgumentException("--qemu-cache must be writeback, none or both, not '" + qemuCache + "'");
            };
            List<NotifyMode> modes = switch (notify) {
                case "both" -> List.of(NotifyMode.TRAPPED, NotifyMode.POLLED);
                case "trapped" -> List.of(NotifyMode.TRAPPED);
                case "polled" -> List.of(NotifyMode.POLLED);
                default -> throw new IllegalArgumentException("--notify must be trapped, polled or both, not '" + notify + "'");
            };
            var options = new VirtioBlkBench.Options(seconds, Sizes.parse(size, "--size"), caches, modes, queues, !privateMemory);
            VirtioBlkBench.print(VirtioBlkBench.run(GuestToolchain.locate(), options, System.err), System.out);
            return 0;
        }
    }

    @Command(name = "nvme", mixinStandardHelpOptions = true,
            description = {"Boot one guest three times, on the same image file: jvfio's NVMe controller with trapped doorbells,"
                    + " the same with shadow doorbells, and QEMU's built-in -device nvme. Each boot runs fio on /dev/nvme0n1"
                    + " for every row (4 KiB randread and randwrite at QD1 and QD32, 1 MiB sequential read and write at QD4).",
                    "Prints IOPS, MiB/s, trapped doorbell writes per I/O command (jvfio), the shadow/qemu and shadow/trapped"
                    + " ratios, and the goals of issue 15 as met / not met.",
                    "Needs the guest toolchain (scripts/provision-guest.sh) and root. Run it on an otherwise idle machine."})
    static final class Nvme implements Callable<Integer> {
        @Option(names = "--seconds", defaultValue = "10", description = "Seconds per row and target (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Option(names = "--image", paramLabel = "FILE",
                description = "A raw image inside the guest toolchain's rootfs (QEMU runs chrooted there); it is read and"
                        + " overwritten. Default: a temporary image of --size, written once so reads find data.")
        Path image;

        @Option(names = "--size", defaultValue = "256M", paramLabel = "SIZE",
                description = "Size of the temporary image (default: ${DEFAULT-VALUE}).")
        String size;

        @Option(names = "--memory", defaultValue = "shared", paramLabel = "shared|private",
                description = "Guest RAM shared by fd (jvfio maps it) or private (jvfio reaches it by DMA messages) (default: ${DEFAULT-VALUE}).")
        String memory;

        @Option(names = "--rows", defaultValue = "all", paramLabel = "ROW[,ROW...]",
                description = "The rows to run, in order (default: ${DEFAULT-VALUE}): randread-4k-qd1, randread-4k-qd32,"
                        + " randwrite-4k-qd1, randwrite-4k-qd32, seqread-1m, seqwrite-1m.")
        String rows;

        @Option(names = "--targets", defaultValue = "all", paramLabel = "trapped|shadow|qemu[,...]",
                description = "The columns to boot, always in the table's order (default: ${DEFAULT-VALUE}).")
        String targets;

        @Option(names = "--cpus", defaultValue = "1",
                description = "Guest vCPUs; Linux makes an I/O queue per CPU (default: ${DEFAULT-VALUE}).")
        int cpus;

        @Option(names = "--json", description = "Print the results as one JSON object instead of the tables.")
        boolean json;

        /** The bench's options from the command line's, checked before anything boots. */
        NvmeBench.Options options() {
            boolean shared = switch (memory) {
                case "shared" -> true;
                case "private" -> false;
                default -> throw new IllegalArgumentException("--memory must be shared or private, not '" + memory + "'");
            };
            return new NvmeBench.Options(seconds, image, image == null ? Sizes.parse(size, "--size") : 0, shared, cpus,
                    NvmeBench.Row.parse(rows), NvmeBench.Target.parse(targets));
        }

        @Override
        public Integer call() throws Exception {
            NvmeBench.Options options = options();
            NvmeBench.Results results = NvmeBench.run(GuestToolchain.locate(), options, System.err);
            if (json) {
                System.out.println(NvmeBenchReport.json(results));
            } else {
                NvmeBenchReport.print(results, System.out);
            }
            return results.failures().isEmpty() ? 0 : 1;
        }
    }
}
