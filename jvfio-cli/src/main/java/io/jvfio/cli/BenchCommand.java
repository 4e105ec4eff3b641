package io.jvfio.cli;

import io.jvfio.devices.virtio.NotifyMode;
import io.jvfio.qemu.GuestToolchain;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jvfio bench ...}: measurements that print a table (not tests). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks that print a table.",
        subcommands = {BenchCommand.VirtioBlk.class})
final class BenchCommand {

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
}
