package io.jvfio.cli.nvme;

import io.jvfio.client.DeviceHandle;
import io.jvfio.client.Devices;
import io.jvfio.client.kernel.KernelOptions;
import io.jvfio.nvme.DmaRegion;
import io.jvfio.nvme.IoQueue;
import io.jvfio.nvme.Namespace;
import io.jvfio.nvme.NvmeDriver;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code jvfio nvme DEVICE ACTION}: drives an NVMe controller — a vfio-user server's, or one bound to
 * vfio-pci through the kernel's VFIO — with the Java driver (io.jvfio.nvme), in nvme-cli's spirit:
 * id-ctrl, id-ns, list, smart-log, read, write, flush, reset; and perf, spdk_nvme_perf's counterpart
 * ({@link NvmePerfCommand}). The driver brings the controller up, does the one thing, and shuts it
 * down normally.
 */
@Command(name = "nvme", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Drive an NVMe controller with jvfio's userspace NVMe driver (no VMM, no kernel driver):",
                "a vfio-user server's, or a PCI one bound to vfio-pci.",
                "",
                "Actions:",
                "  id-ctrl   Identify Controller: model, serial, firmware, MDTS, optional commands",
                "  id-ns     Identify Namespace --namespace-id: size, capacity, LBA format",
                "  list      every active namespace with its size and format",
                "  smart-log the SMART / Health Information log page (temperature, data units, commands)",
                "  read      --start-block, --block-count blocks to --data FILE (or stdout)",
                "  write     --data FILE at --start-block (the last block padded with zeroes)",
                "  flush     the volatile write cache of --namespace-id to non-volatile media",
                "  reset     a controller reset: disabled (CC.EN=0), set up again and enabled",
                "  perf      keep -q commands of -o bytes in flight for -t seconds (-w pattern,",
                "            -M read share, --threads); a progress line each second, then",
                "            IOPS, MiB/s and latency min/avg/p50/p99/p99.9/max",
                "",
                "Examples:  jvfio nvme /tmp/nvme.sock id-ctrl",
                "           jvfio nvme /tmp/nvme.sock read -s 0 -c 8 -d block0.bin",
                "           jvfio nvme /tmp/nvme.sock perf -q 128 -o 4k -w randread -t 10",
                "           jvfio nvme 0000:00:04.0 id-ctrl"})
public final class NvmeCommand implements Callable<Integer> {
    /** What the command does. */
    enum Action {
        ID_CTRL("id-ctrl"), ID_NS("id-ns"), LIST("list"), SMART_LOG("smart-log"), READ("read"), WRITE("write"), FLUSH("flush"),
        RESET("reset"), PERF("perf");

        final String word;

        Action(String word) {
            this.word = word;
        }

        static Action of(String word) {
            for (Action a : values()) {
                if (a.word.equals(word)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("unknown action '%s' (%s)".formatted(word, String.join(", ", actions())));
        }
    }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SOCKET|PCI-ADDRESS", description = "A vfio-user server's UNIX socket, a PCI address bound "
            + "to vfio-pci (0000:00:04.0 or 00:04.0), or a VFIO cdev (/dev/vfio/devices/vfioN).")
    String device;

    @Parameters(index = "1", paramLabel = "ACTION", description = "id-ctrl, id-ns, list, smart-log, read, write, flush, reset or perf.")
    String action;

    @Option(names = {"-n", "--namespace-id"}, paramLabel = "NSID", defaultValue = "1",
            description = "The namespace of id-ns, read, write, flush and perf (default: ${DEFAULT-VALUE}).")
    int nsid;

    @Option(names = {"-s", "--start-block"}, paramLabel = "LBA", defaultValue = "0", description = "The first block to read or write.")
    long startBlock;

    @Option(names = {"-c", "--block-count"}, paramLabel = "N",
            description = "Blocks to read (default 1), or to write (default: the data file's size).")
    Long blockCount;

    @Option(names = {"-d", "--data"}, paramLabel = "FILE", description = "Where read puts the data (default stdout); what write writes.")
    Path data;

    @Option(names = "--json", description = "JSON output for id-ctrl, id-ns, list, smart-log and perf.")
    boolean json;

    @Option(names = "--interrupts", description = "Take completions by MSI-X rather than polling them.")
    boolean interrupts;

    @Mixin
    NvmePerfCommand perf;

    @Option(names = "--allow-no-iommu", description = "Drive a kernel device even in the unsafe no-IOMMU mode.")
    boolean allowNoIommu;

    @Override
    public Integer call() throws IOException, InterruptedException {
        Action what = Action.of(action);
        PrintWriter out = spec.commandLine().getOut();
        if (what == Action.PERF) {
            try (DeviceHandle handle = Devices.open(device, KernelOptions.defaults().withAllowNoIommu(allowNoIommu))) {
                return perf.run(handle, nsid, interrupts, json, out, spec.commandLine().getErr());
            }
        }
        try (DeviceHandle client = Devices.open(device, KernelOptions.defaults().withAllowNoIommu(allowNoIommu));
                NvmeDriver driver = NvmeDriver.open(client, NvmeDriver.Options.defaults().withInterrupts(interrupts)
                        .withIoQueues(1, 64))) {
            switch (what) {
                case ID_CTRL -> out.print(json ? NvmeFormat.controllerJson(driver.controller())
                        : NvmeFormat.controller(driver.controller(), driver.maxTransferBytes()));
                case ID_NS -> out.print(json ? NvmeFormat.namespaceJson(driver.namespace(nsid))
                        : NvmeFormat.namespace(driver.namespace(nsid)));
                case LIST -> out.print(json ? NvmeFormat.listJson(driver.controller(), driver.namespaces())
                        : NvmeFormat.list(device, driver.controller(), driver.namespaces()));
                case SMART_LOG -> out.print(json ? NvmeFormat.smartLogJson(driver.smartLog())
                        : NvmeFormat.smartLog(device, driver.smartLog()));
                case READ -> read(driver, out);
                case WRITE -> write(driver, out);
                case FLUSH -> {
                    driver.ioQueue().flush(nsid);
                    out.printf("flushed namespace %d%n", nsid);
                }
                case RESET -> {
                    driver.reset();
                    out.printf("controller reset: %s ready again%n", driver.controller().model());
                }
            }
        }
        out.flush();
        return 0;
    }

    private void read(NvmeDriver driver, PrintWriter out) throws IOException {
        Namespace ns = driver.namespace(nsid);
        long blocks = blockCount == null ? 1 : blockCount;
        checkBlocks(ns, blocks);
        long bytes = blocks * ns.blockSize();
        DmaRegion buffer = driver.allocateBuffer(bytes);
        driver.ioQueue().read(nsid, startBlock, (int) blocks, buffer);
        byte[] content = buffer.segment().asSlice(0, bytes).toArray(ValueLayout.JAVA_BYTE);
        if (data != null) {
            Files.write(data, content);
            out.printf("read %d blocks (%d bytes) from namespace %d at block %d to %s%n", blocks, bytes, nsid, startBlock, data);
        } else {
            out.flush();
            OutputStream raw = System.out;
            raw.write(content);
            raw.flush();
        }
    }

    private void write(NvmeDriver driver, PrintWriter out) throws IOException {
        if (data == null) {
            throw new IllegalArgumentException("write needs --data FILE");
        }
        Namespace ns = driver.namespace(nsid);
        byte[] content = Files.readAllBytes(data);
        long blocks = blockCount != null ? blockCount : Math.max(1, (content.length + ns.blockSize() - 1) / ns.blockSize());
        checkBlocks(ns, blocks);
        long bytes = blocks * ns.blockSize();
        DmaRegion buffer = driver.allocateBuffer(bytes);
        MemorySegment.copy(MemorySegment.ofArray(content), 0, buffer.segment(), 0, Math.min(bytes, content.length));
        IoQueue queue = driver.ioQueue();
        queue.write(nsid, startBlock, (int) blocks, buffer);
        queue.flush(nsid);
        out.printf("wrote %d blocks (%d bytes) to namespace %d at block %d%n", blocks, bytes, nsid, startBlock);
    }

    private void checkBlocks(Namespace ns, long blocks) {
        if (blocks < 1 || startBlock < 0 || startBlock > ns.sizeBlocks() - blocks || blocks * ns.blockSize() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("blocks [%d, +%d) do not fit namespace %d of %d blocks (or are over 2 GiB)"
                    .formatted(startBlock, blocks, ns.nsid(), ns.sizeBlocks()));
        }
    }

    /** The actions' words. */
    static List<String> actions() {
        return Arrays.stream(Action.values()).map(a -> a.word).toList();
    }
}
