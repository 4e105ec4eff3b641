package io.jvfio.cli.scenarios;

import io.jvfio.cli.Main;
import io.jvfio.client.DeviceException;
import io.jvfio.client.DeviceHandle;
import io.jvfio.client.Devices;
import io.jvfio.client.kernel.KernelOptions;
import io.jvfio.client.kernel.KernelVfioDevice;
import io.jvfio.client.kernel.PciAddress;
import io.jvfio.client.kernel.VfioPciBinding;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.nvme.DmaRegion;
import io.jvfio.nvme.IoQueue;
import io.jvfio.nvme.NvmeDriver;
import io.jvfio.protocol.Vfio;
import io.jvfio.testing.OpenFds;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The main {@link KernelVfioNvmeGuestTest} runs inside its guest: the Java NVMe driver through the kernel backend,
 * on a PCI NVMe controller that Linux's nvme driver holds at first. Arguments: the controller's PCI address, then
 * {@code polled=LBA:WRITER} and {@code msix=LBA:WRITER}, the patterns to write polled and with interrupts; optionally
 * {@code group=BRIDGE} (of the devices behind that PCI bridge, one IOMMU group, the first is bound to vfio-pci and
 * the others left with their driver), {@code circle=LBA:WRITER} (jvfio's NVMe controller, by its vendor id — QEMU's
 * vfio-user-pci device of a controller served on the host — gets that pattern the same way) and
 * {@code allow-no-iommu} (the kernel's unsafe no-IOMMU mode is allowed).
 *
 * <p>Prints {@code JVFIO-RESULT:} lines: the refusal before binding; with no /dev/iommu, the refusal of iommufd;
 * in no-IOMMU mode, the refusal when it is not allowed;
 * {@code jvfio lspci -vv} and {@code jvfio nvme id-ctrl} of the bound controller (the CLI's main, in this JVM); the
 * backend; patterns written, read back and compared, polled and by MSI-X (the vfio-msix interrupts counted in
 * /proc/interrupts), in memory the device maps and in memory the driver registers; reads after the driver's
 * controller reset and after VFIO_DEVICE_RESET; the errors for an IOVA outside the IOMMU's ranges, an unmap of
 * memory never mapped and a group that is not viable; the controllers given back to their driver; and the
 * descriptors open before and after (class path jars, which the JVM opens as it loads classes, aside).
 */
public final class KernelNvmeProbe {
    static final int BLOCK_SIZE = 512;
    /** 256 KiB per pattern: one command whose data needs a PRP list. */
    static final int PATTERN_BLOCKS = 512;
    private static final String NVME_CLASS = "0x010802";
    /** How sysfs spells the vendor of jvfio's controller, which the full circle drives. */
    private static final String JVFIO_VENDOR = "0x%04x".formatted(NvmeController.VENDOR_ID);
    private static final Pattern PCI_ADDRESS = Pattern.compile("\\p{XDigit}{4}:\\p{XDigit}{2}:\\p{XDigit}{2}\\.\\p{XDigit}");
    private static final Path PCI_DEVICES = Path.of("/sys/bus/pci/devices");

    private final KernelOptions kernel;
    private final VfioPciBinding binding;

    private KernelNvmeProbe(KernelOptions kernel) {
        this.kernel = kernel;
        this.binding = new VfioPciBinding(kernel);
    }

    public static void main(String[] args) throws Exception {
        String bdf = args[0];
        Map<String, String> options = new HashMap<>();
        for (int i = 1; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            options.put(eq < 0 ? args[i] : args[i].substring(0, eq), eq < 0 ? "" : args[i].substring(eq + 1));
        }
        List<String> fdsBefore = nonJarFds();
        result("fds before " + fdsBefore.size());
        KernelNvmeProbe probe = new KernelNvmeProbe(KernelOptions.defaults().withAllowNoIommu(options.containsKey("allow-no-iommu")));
        probe.drive(bdf, options.get("polled"), options.get("msix"));
        if (options.containsKey("group")) {
            probe.groupNotViable(options.get("group"));
        }
        if (options.containsKey("circle")) {
            probe.fullCircle(options.get("circle"));
        }
        List<String> fdsAfter = nonJarFds();
        result("fds after " + fdsAfter.size());
        if (!fdsAfter.equals(fdsBefore)) {
            result("fds differ: before " + fdsBefore + " after " + fdsAfter);
        }
    }

    /** Everything on the controller at {@code bdf}, from the refusal before binding to giving it back. */
    private void drive(String bdf, String polled, String interrupts) throws Exception {
        try (DeviceHandle device = Devices.open(bdf, kernel)) {
            throw new AssertionError("opened " + device + " before it was bound to vfio-pci");
        } catch (DeviceException e) {
            result("open before binding refused errno " + e.errno() + ": " + e.getMessage());
        }
        PciAddress address = PciAddress.parse(bdf);
        Optional<String> driverBefore = binding.bind(address);
        result("bound " + bdf + " to " + binding.driver(address).orElse("no driver") + " (was "
                + driverBefore.orElse("no driver") + ")");
        if (!Files.exists(Path.of("/dev/iommu"))) {
            try (DeviceHandle device = Devices.open(bdf, kernel.withBackend(KernelOptions.Backend.IOMMUFD))) {
                throw new AssertionError("opened " + device + " through iommufd on a kernel without it");
            } catch (DeviceException e) {
                result("iommufd refused errno " + e.errno() + ": " + e.getMessage());
            }
        }
        if (kernel.allowNoIommu()) {
            try (DeviceHandle device = Devices.open(bdf, kernel.withAllowNoIommu(false))) {
                result("opened " + device + " without being allowed no-IOMMU");
            } catch (DeviceException e) {
                result("no-IOMMU not allowed refused errno " + e.errno() + ": " + e.getMessage());
            }
        }
        result("cli lspci exit " + cli("lspci", "-vv", bdf));
        result("cli id-ctrl exit " + cli("nvme", bdf, "id-ctrl"));

        try (KernelVfioDevice device = (KernelVfioDevice) Devices.open(bdf, kernel)) {
            result("backend " + device.backend() + " no-iommu " + device.noIommu() + ": " + device);
            result("iova ranges " + device.iovaRanges());
            try (NvmeDriver driver = NvmeDriver.open(device, NvmeDriver.Options.defaults())) {
                result("driver up: " + driver.controller().model().strip() + " serial " + driver.controller().serial().strip()
                        + ", namespace 1 of " + driver.namespace(1).sizeBlocks() + " blocks, doorbells mapped "
                        + driver.doorbellsMapped());
                writeAndVerify(driver, polled, "polled");
                driver.reset();
                verify(driver, polled, "after the driver's controller reset");
            }
            device.reset();
            result("VFIO_DEVICE_RESET done");
            result("migration offered " + device.probeFeature(Vfio.DEVICE_FEATURE_MIGRATION, Vfio.DEVICE_FEATURE_GET));
            badInput(device);
            if (!device.noIommu()) {   // without an IOMMU the device reaches only memory at the IOVA of its physical address
                try (NvmeDriver driver = NvmeDriver.open(device, NvmeDriver.Options.defaults().withSharedMemory(false))) {
                    verify(driver, polled, "in memory the driver registered");
                }
            }
            try (NvmeDriver driver = NvmeDriver.open(device, NvmeDriver.Options.defaults().withInterrupts(true))) {
                result("interrupts enabled " + driver.interruptsEnabled());
                verify(driver, polled, "after VFIO_DEVICE_RESET");
                writeAndVerify(driver, interrupts, "with interrupts");
                result("vfio-msix interrupts " + msixInterrupts(bdf));   // while wired: the lines go with the vectors
            }
        }
        binding.release(address);
        result("released " + bdf + " to " + binding.driver(address).orElse("no driver"));
    }

    /** Runs the CLI's main in this JVM (no-IOMMU allowed when the probe allows it); returns its exit code. */
    private int cli(String... args) {
        return kernel.allowNoIommu() ? Main.run(Stream.concat(Stream.of(args), Stream.of("--allow-no-iommu")).toArray(String[]::new))
                : Main.run(args);
    }

    /** jvfio's NVMe controller (through vfio-user) bound to vfio-pci, a pattern written and read back with MSI-X. */
    private void fullCircle(String pattern) throws IOException {
        String other;
        try (Stream<Path> devices = Files.list(PCI_DEVICES)) {
            other = devices.filter(d -> NVME_CLASS.equals(read(d.resolve("class"))) && JVFIO_VENDOR.equals(read(d.resolve("vendor"))))
                    .map(d -> d.getFileName().toString()).findFirst().orElseThrow(() -> new IOException("no jvfio NVMe controller"));
        }
        PciAddress address = PciAddress.parse(other);
        Optional<String> driverBefore = binding.bind(address);
        result("circle bound " + other + " to " + binding.driver(address).orElse("no driver") + " (was "
                + driverBefore.orElse("no driver") + ")");
        try (KernelVfioDevice device = (KernelVfioDevice) Devices.open(other, kernel)) {
            result("circle backend " + device.backend() + " no-iommu " + device.noIommu());
            try (NvmeDriver driver = NvmeDriver.open(device, NvmeDriver.Options.defaults().withInterrupts(true))) {
                result("circle driver up: " + driver.controller().model().strip() + " serial "
                        + driver.controller().serial().strip());
                writeAndVerify(driver, pattern, "circle");
                result("circle vfio-msix interrupts " + msixInterrupts(other));
            }
        }
        binding.release(address);
        result("circle released " + other + " to " + binding.driver(address).orElse("no driver"));
    }

    /**
     * A group that is not viable: of the devices behind {@code bridge} (one IOMMU group, as a conventional PCI bridge
     * makes it), the first is bound to vfio-pci while the others stay with their driver; opening it is refused.
     */
    private void groupNotViable(String bridge) throws IOException {
        List<String> behind;
        try (Stream<Path> entries = Files.list(PCI_DEVICES.resolve(bridge))) {
            behind = entries.map(p -> p.getFileName().toString()).filter(n -> PCI_ADDRESS.matcher(n).matches()).sorted().toList();
        }
        PciAddress address = PciAddress.parse(behind.getFirst());
        binding.bind(address);
        result("group of " + address + ": " + behind + ", " + address + " bound to " + binding.driver(address).orElse("no driver"));
        try (DeviceHandle device = Devices.open(address.toString(), kernel)) {
            throw new AssertionError("opened " + device + " in a group that is not viable");
        } catch (DeviceException e) {
            result("group not viable refused errno " + e.errno() + ": " + e.getMessage());
        } finally {
            binding.release(address);
        }
        result("group released " + address + " to " + binding.driver(address).orElse("no driver"));
    }

    /**
     * Unmapped IOVAs and memory never mapped: the backend says what is wrong before the kernel sees it. Without an
     * IOMMU there are no ranges (a buffer's IOVA is its physical address, whatever was asked for).
     */
    private static void badInput(KernelVfioDevice device) throws IOException {
        long msiWindow = 0xFEE0_0000L;   // x86's interrupt window: never an IOVA for DMA
        if (!device.noIommu()) {
            try (var buffer = device.allocateDma(msiWindow, 4096)) {
                result("mapped DMA at 0x" + Long.toHexString(buffer.iova()) + ", which the IOMMU reserves");
            } catch (DeviceException e) {
                result("dma outside ranges refused errno " + e.errno() + ": " + e.getMessage());
            }
        }
        try {
            device.dmaUnmap(0x4000_0000L, 4096);
            result("unmapped memory never mapped");
        } catch (DeviceException e) {
            result("unmap never mapped refused errno " + e.errno() + ": " + e.getMessage());
        }
    }

    private static void writeAndVerify(NvmeDriver driver, String spec, String how) throws IOException {
        long lba = lba(spec);
        byte[] pattern = pattern(writer(spec), lba);
        DmaRegion buffer = driver.allocateBuffer(pattern.length);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, buffer.segment(), 0, pattern.length);
        IoQueue queue = driver.ioQueue();
        queue.write(1, lba, PATTERN_BLOCKS, buffer);
        queue.flush(1);
        driver.release(buffer);
        result("pattern " + writer(spec) + " written " + how + " at lba " + lba);
        verify(driver, spec, how);
    }

    private static void verify(NvmeDriver driver, String spec, String how) throws IOException {
        long lba = lba(spec);
        byte[] expected = pattern(writer(spec), lba);
        DmaRegion buffer = driver.allocateBuffer(expected.length);
        driver.ioQueue().read(1, lba, PATTERN_BLOCKS, buffer);
        // Without an IOMMU the buffer may be a whole huge page: compare what was read.
        byte[] read = buffer.segment().asSlice(0, expected.length).toArray(ValueLayout.JAVA_BYTE);
        driver.release(buffer);
        int mismatch = Arrays.mismatch(read, expected);
        result("pattern " + writer(spec) + " read " + how + (mismatch < 0 ? " matches"
                : " differs at byte " + mismatch));
    }

    /** The MSI-X interrupts vfio-pci took for {@code bdf} since its vectors were wired: its vfio-msix lines of /proc/interrupts. */
    private static long msixInterrupts(String bdf) throws IOException {
        long total = 0;
        for (String line : Files.readAllLines(Path.of("/proc/interrupts"))) {
            if (line.contains("vfio-msix") && line.contains(bdf)) {
                String[] fields = line.strip().split("\\s+");
                for (int i = 1; i < fields.length && fields[i].chars().allMatch(Character::isDigit); i++) {
                    total += Long.parseLong(fields[i]);
                }
            }
        }
        return total;
    }

    /** {@link #PATTERN_BLOCKS} blocks from {@code firstLba}: "jvfio WRITER lba N" blank-padded, ending in a newline. */
    static byte[] pattern(String writer, long firstLba) {
        StringBuilder blocks = new StringBuilder(PATTERN_BLOCKS * BLOCK_SIZE);
        for (int i = 0; i < PATTERN_BLOCKS; i++) {
            String text = "jvfio " + writer + " lba " + (firstLba + i);
            blocks.append(text).append(" ".repeat(BLOCK_SIZE - 1 - text.length())).append('\n');
        }
        return blocks.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static long lba(String spec) {
        return Long.parseLong(spec.substring(0, spec.indexOf(':')));
    }

    private static String writer(String spec) {
        return spec.substring(spec.indexOf(':') + 1);
    }

    /** The open descriptors but class path jars and the listing's own, "n -> target". */
    private static List<String> nonJarFds() {
        String listing = "/proc/" + ProcessHandle.current().pid() + "/fd";
        return OpenFds.describe().stream().filter(fd -> !fd.endsWith(".jar") && !fd.endsWith(listing)).toList();
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return "";
        }
    }

    private static void result(String text) {
        System.out.println("JVFIO-RESULT: " + text);
        System.out.flush();
    }
}
