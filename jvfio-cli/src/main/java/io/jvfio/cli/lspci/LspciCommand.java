package io.jvfio.cli.lspci;

import static io.jvfio.cli.VfioNames.deviceFlags;
import static io.jvfio.cli.VfioNames.irqFlags;
import static io.jvfio.cli.VfioNames.irqName;
import static io.jvfio.cli.VfioNames.regionFlags;
import static io.jvfio.cli.VfioNames.regionName;

import io.jvfio.client.DeviceException;
import io.jvfio.client.DeviceHandle;
import io.jvfio.client.Devices;
import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.client.kernel.KernelOptions;
import io.jvfio.client.kernel.PciAddress;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.RegionTypeCap;
import io.jvfio.protocol.SparseMmapCap;
import io.jvfio.protocol.SparseMmapFdsCap;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.ZpciCaps;

/**
 * {@code jvfio lspci DEVICE}: opens a vfio-user device as a client (or a device bound to vfio-pci,
 * through the kernel's VFIO) and prints it the way Linux {@code lspci} prints a device (config space
 * decoded, BAR sizes from region info), followed by what VFIO itself says about it: device info,
 * regions, interrupts and, for vfio-user, the server's capabilities.
 */
@Command(name = "lspci", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Show a vfio-user device, or a PCI device bound to vfio-pci, the way lspci shows a PCI",
                "device, then its VFIO view: device info, regions, interrupts and (vfio-user) the server's",
                "capabilities.",
                "",
                "The slot is not known to a vfio-user client, so it prints as 00:00.0 unless --slot says",
                "otherwise; IRQ routing and kernel drivers are guest facts and are not shown.",
                "",
                "Examples:  jvfio lspci -vv /tmp/gpio.sock",
                "           jvfio lspci -vv 0000:00:04.0"})
public final class LspciCommand implements Callable<Integer> {
    /** QEMU refuses devices with more regions or interrupt indices than this; so do we, for untrusted counts. */
    static final int MAX_REGIONS = 100;
    static final int MAX_IRQS = 50;
    /** The largest PCI (Express) configuration space. */
    static final int MAX_CONFIG_SIZE = 4096;
    private static final Pattern SLOT = Pattern.compile("([0-9a-fA-F]{1,4}:)?[0-9a-fA-F]{1,2}:[0-9a-fA-F]{1,2}\\.[0-7]");

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "SOCKET|PCI-ADDRESS", description = "A vfio-user server's UNIX socket, a PCI address bound to vfio-pci "
            + "(0000:00:04.0 or 00:04.0), or a VFIO cdev (/dev/vfio/devices/vfioN).")
    String device;

    @Option(names = "--allow-no-iommu", description = "Open a kernel device even in the unsafe no-IOMMU mode.")
    boolean allowNoIommu;

    @Option(names = "-v", description = "Be verbose (-vv: very verbose), as lspci.")
    boolean[] verbose = new boolean[0];

    @Option(names = "-n", description = "Show numeric ids (-nn: both names and numbers), as lspci.")
    boolean[] numeric = new boolean[0];

    @Option(names = "-x", description = "Hex dump of config space: -x the first 64 bytes, -xxx 256, -xxxx 4096 (PCI Express).")
    boolean[] hex = new boolean[0];

    @Option(names = {"-s", "--slot"}, paramLabel = "[DOMAIN:]BUS:DEV.FN",
            description = "Slot to print in front of the device (default: a kernel device's own address, else 00:00.0).")
    String slot;

    @Option(names = "--lspci-only", description = "Print only the lspci part, without the vfio-user section.")
    boolean lspciOnly;

    /** Everything {@code jvfio lspci} learns from the device; {@code serverCaps} null for a kernel device. */
    record Snapshot(DeviceInfo info, List<RegionLine> regions, List<IrqLine> irqs, byte[] config,
                    int serverMinor, VersionCapabilities serverCaps) {}

    /** One region's info, or why it could not be had; neither for the VGA region of a device that has none. */
    record RegionLine(int index, RegionInfo info, boolean fd, String error) {}

    /** One interrupt index's info, or why it could not be had. */
    record IrqLine(int index, IrqInfo info, String error) {}

    @Override
    public Integer call() throws IOException {
        String shownSlot = slot != null ? slot : PciAddress.tryParse(device).map(LspciCommand::lspciSlot).orElse("00:00.0");
        if (!SLOT.matcher(shownSlot).matches()) {
            throw new IllegalArgumentException("--slot must look like 00:01.0 or 0000:00:01.0, not '" + shownSlot + "'");
        }
        Snapshot snapshot = fetch(device, KernelOptions.defaults().withAllowNoIommu(allowNoIommu));
        PrintWriter out = spec.commandLine().getOut();
        out.print(render(snapshot, new LspciFormatter.Options(verbose.length, numeric.length, hex.length, shownSlot),
                lspciOnly ? null : device));
        out.flush();
        return 0;
    }

    private static final int DEVICE_INFO_ARGSZ = 4096;

    /** lspci's slot for a device: without the domain when it is 0. */
    private static String lspciSlot(PciAddress address) {
        String full = address.toString();
        return address.domain() == 0 ? full.substring(full.indexOf(':') + 1) : full;
    }

    /** Opens the device {@code name} names, reads what lspci needs, closes it. */
    static Snapshot fetch(String name, KernelOptions kernel) throws IOException {
        try (DeviceHandle handle = Devices.open(name, kernel)) {
            return handle instanceof VfioUserClient client
                    ? fetch(client, name, client.serverMinorVersion(), client.serverCapabilities())
                    : fetch(handle, name, 0, null);
        }
    }

    /** Reads what lspci needs from {@code device} ({@code name} in messages); the server facts go along. */
    static Snapshot fetch(DeviceHandle device, String name, int serverMinor, VersionCapabilities serverCaps) throws IOException {
        // Offer room for the device-info capability chain (platform extensions such as zPCI).
        DeviceInfo info = device.deviceInfo(DEVICE_INFO_ARGSZ);
        if ((info.flags() & Vfio.DEVICE_FLAGS_PCI) == 0) {
            throw new DeviceException(Errno.ENODEV, name + ": not a PCI device (device flags 0x"
                    + Integer.toHexString(info.flags()) + ")");
        }
        int numRegions = (int) Math.min(Integer.toUnsignedLong(info.numRegions()), MAX_REGIONS);
        int numIrqs = (int) Math.min(Integer.toUnsignedLong(info.numIrqs()), MAX_IRQS);
        List<RegionLine> regions = new ArrayList<>();
        for (int i = 0; i < numRegions; i++) {
            try (RegionDescription r = device.regionInfo(i)) {
                regions.add(new RegionLine(i, r.info(), r.mmapFd().isPresent(), null));
            } catch (DeviceException e) {
                if (!device.isConnected()) {
                    throw e;
                }
                // vfio-pci answers EINVAL for the VGA region of a device that has none: absent, not broken.
                boolean noVga = i == Vfio.PCI_VGA_REGION_INDEX && e.errno() == Errno.EINVAL;
                regions.add(new RegionLine(i, null, false, noVga ? null : e.getMessage()));
            }
        }
        List<IrqLine> irqs = new ArrayList<>();
        for (int i = 0; i < numIrqs; i++) {
            try {
                irqs.add(new IrqLine(i, device.irqInfo(i), null));
            } catch (DeviceException e) {
                if (!device.isConnected()) {
                    throw e;
                }
                irqs.add(new IrqLine(i, null, e.getMessage()));
            }
        }
        RegionLine configRegion = Vfio.PCI_CONFIG_REGION_INDEX < regions.size()
                ? regions.get(Vfio.PCI_CONFIG_REGION_INDEX) : null;
        if (configRegion == null || configRegion.info() == null || configRegion.info().size() <= 0) {
            throw new DeviceException(Errno.ENODEV, name + ": the device has no config space region"
                    + (configRegion != null && configRegion.error() != null ? " (" + configRegion.error() + ")" : ""));
        }
        int size = (int) Math.min(configRegion.info().size(), MAX_CONFIG_SIZE);
        byte[] config = device.regionRead(Vfio.PCI_CONFIG_REGION_INDEX, 0, size);
        return new Snapshot(info, regions, irqs, config, serverMinor, serverCaps);
    }

    /** The whole output: the lspci part, then (unless {@code device} is null) the VFIO section. */
    static String render(Snapshot s, LspciFormatter.Options options, String device) {
        long[] barSizes = new long[Vfio.PCI_ROM_REGION_INDEX];
        Arrays.fill(barSizes, -1);
        long romSize = -1;
        for (RegionLine r : s.regions()) {
            if (r.info() == null) {
                continue;
            }
            if (r.index() < Vfio.PCI_ROM_REGION_INDEX) {
                barSizes[r.index()] = r.info().size();
            } else if (r.index() == Vfio.PCI_ROM_REGION_INDEX) {
                romSize = r.info().size();
            }
        }
        String lspci = new LspciFormatter(new LspciConfig(s.config()), barSizes, romSize, options).format();
        if (device == null) {
            return lspci;
        }
        StringBuilder out = new StringBuilder(lspci);
        if (!lspci.endsWith("\n\n")) {
            out.append('\n');
        }
        vfioSection(s, device, out);
        return out.toString();
    }

    private static void vfioSection(Snapshot s, String device, StringBuilder out) {
        DeviceInfo info = s.info();
        out.append(s.serverCaps() != null ? "vfio-user device at " : "kernel VFIO device ").append(device).append('\n');
        out.append("\tDevice info: flags=").append(deviceFlags(info.flags()))
                .append(" num_regions=").append(Integer.toUnsignedString(info.numRegions()))
                .append(" num_irqs=").append(Integer.toUnsignedString(info.numIrqs()));
        out.append('\n');
        for (InfoCapability c : info.caps()) {
            InfoCapability decoded;
            try {
                decoded = ZpciCaps.decode(c);
            } catch (ProtocolException e) {
                decoded = c;
            }
            out.append("\tDevice capability: ").append(decoded).append('\n');
        }
        for (RegionLine r : s.regions()) {
            out.append("\tRegion %d %s: ".formatted(r.index(), regionName(r.index())));
            if (r.info() == null) {
                out.append(r.error() == null ? "absent (not a VGA device)" : "error: " + r.error()).append('\n');
                continue;
            }
            RegionInfo ri = r.info();
            out.append("size=").append(sizeText(ri.size()));
            out.append(" flags=").append(regionFlags(ri.flags()));
            if (ri.size() != 0 || ri.offset() != 0) {
                out.append(" offset=0x").append(Long.toHexString(ri.offset()));
            }
            if (r.fd()) {
                out.append(" fd");
            }
            for (InfoCapability c : ri.caps()) {
                out.append(' ').append(regionCap(c));
            }
            out.append('\n');
        }
        for (IrqLine i : s.irqs()) {
            out.append("\tIRQ %d %s: ".formatted(i.index(), irqName(i.index())));
            if (i.info() == null) {
                out.append("error: ").append(i.error()).append('\n');
                continue;
            }
            out.append("count=").append(Integer.toUnsignedString(i.info().count()))
                    .append(" flags=").append(irqFlags(i.info().flags())).append('\n');
        }
        VersionCapabilities caps = s.serverCaps();
        if (caps == null) {
            return;
        }
        out.append("\tServer: protocol 0.%d, max_msg_fds=%d max_data_xfer_size=%d max_dma_maps=%d pgsizes=0x%x write_multiple%c twin_socket%c migration%c\n"
                .formatted(s.serverMinor(), caps.maxMsgFds(), caps.maxDataXferSize(), caps.maxDmaMaps(), caps.pgsizes(),
                        caps.writeMultiple() ? '+' : '-', caps.twinSocketSupported() ? '+' : '-',
                        caps.hasMigration() ? '+' : '-'));
        out.append("\tServer capabilities: ").append(caps.toJson()).append('\n');
    }

    static String sizeText(long size) {
        return size < 1024 && size >= 0 ? Long.toString(size) : "0x" + Long.toHexString(size) + " (" + Long.toUnsignedString(size) + ")";
    }

    private static String regionCap(InfoCapability c) {
        return switch (c) {
            case SparseMmapCap s -> {
                StringJoiner j = new StringJoiner(",", "sparse-mmap[", "]");
                s.areas().forEach(a -> j.add("0x" + Long.toHexString(a.offset()) + "+0x" + Long.toHexString(a.size())));
                yield j.toString();
            }
            case SparseMmapFdsCap s -> {
                StringJoiner j = new StringJoiner(",", "sparse-mmap-fds[", "]");
                s.areas().forEach(a -> j.add("0x" + Long.toHexString(a.offset()) + "+0x" + Long.toHexString(a.size())
                        + "@fd" + a.fdIndex()));
                yield j.toString();
            }
            case RegionTypeCap t -> "type=0x%x subtype=0x%x".formatted(t.type(), t.subtype());
            default -> "cap(id=%d v%d)".formatted(c.id(), c.version());
        };
    }
}
