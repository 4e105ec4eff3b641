package io.jvfio.server;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.VersionCapabilities;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What a client finds when it opens a device on a server with given options, read from the built
 * device itself: its DEVICE_GET_INFO, every region's and irq index's info, its PCI identity (from
 * its config space), whether it migrates, and what the server advertises at VERSION. A live
 * upgrade compares two of these; {@code jvfio serve … --describe} prints one.
 *
 * @param deviceClass the device's Java class
 * @param name        {@link VfioDevice#name()}
 * @param info        DEVICE_GET_INFO as served (with platform extensions' capabilities)
 * @param regions     every region index below {@code info.numRegions()}, absent ones with size 0
 * @param irqs        every irq index below {@code info.numIrqs()}, unsupported ones with count 0
 * @param pci         the config header's identity; empty for a device without a PCI config region
 * @param migration   the VFIO migration v2 flags (DEVICE_FEATURE MIGRATION) when the device migrates
 * @param advertised  the VERSION capabilities the server answers with (to a client that leaves room)
 * @param maxDmaWindows the most DMA windows a client may have at once
 */
public record DeviceDescription(String deviceClass, String name, DeviceSpec info, List<Region> regions, List<Irq> irqs,
                                Optional<PciIdentity> pci, OptionalLong migration, VersionCapabilities advertised,
                                int maxDmaWindows) {
    private static final int PCI_HEADER_BYTES = 0x40;

    public DeviceDescription {
        regions = List.copyOf(regions);
        irqs = List.copyOf(irqs);
    }

    /**
     * One region: its size, VFIO region info flags (READ, WRITE, MMAP), the parts the client may map
     * when not all of it (SPARSE_MMAP), and its other capabilities (a device-specific region's TYPE).
     */
    public record Region(int index, long size, int flags, List<RegionSpec.SparseArea> mappableAreas,
                         List<InfoCapability> capabilities) {
        public Region {
            mappableAreas = List.copyOf(mappableAreas);
            capabilities = List.copyOf(capabilities);
        }

        public boolean readable() {
            return (flags & Vfio.REGION_INFO_FLAG_READ) != 0;
        }

        public boolean writable() {
            return (flags & Vfio.REGION_INFO_FLAG_WRITE) != 0;
        }

        public boolean mappable() {
            return (flags & Vfio.REGION_INFO_FLAG_MMAP) != 0;
        }
    }

    /** One irq index: how many vectors, and its VFIO irq info flags (EVENTFD, MASKABLE, AUTOMASKED, NORESIZE). */
    public record Irq(int index, int count, int flags) {}

    /**
     * The PCI config header's identity: ids, revision, the 24-bit class code (base, sub, programming
     * interface) and the header type; the subsystem ids are where a type 0 header (an endpoint) has them.
     */
    public record PciIdentity(int vendorId, int deviceId, int subsystemVendorId, int subsystemId, int revision,
                              int classCode, int headerType) {}

    /**
     * Describes {@code served} — the device as written ({@code written}, whose class is named) with
     * the server's platform extensions applied — as a server with {@code options} offers it.
     */
    public static DeviceDescription of(VfioDevice written, VfioDevice served, ServerOptions options) throws VfioException {
        DeviceSpec info = served.info();
        List<Region> regions = new ArrayList<>();
        for (int i = 0; i < info.numRegions(); i++) {
            RegionSpec r = served.regionInfo(i);
            regions.add(new Region(i, r.size(), r.vfioFlags(), r.mmap().map(RegionSpec.Mmap::areas).orElse(List.of()),
                    r.capabilities()));
        }
        List<Irq> irqs = new ArrayList<>();
        for (int i = 0; i < info.numIrqs(); i++) {
            IrqSpec irq = served.irqInfo(i);
            irqs.add(new Irq(i, irq.count(), irq.vfioFlags()));
        }
        return new DeviceDescription(written.getClass().getName(), written.name(), info, regions, irqs,
                pciIdentity(served, info, regions), served.migration().isPresent() ? OptionalLong.of(DeviceMigration.FLAGS) : OptionalLong.empty(), options.versionCapabilities(),
                options.maxDmaWindows());
    }

    /** Read as a client reads it: through the config region. */
    private static Optional<PciIdentity> pciIdentity(VfioDevice device, DeviceSpec info, List<Region> regions) throws VfioException {
        if ((info.flags() & Vfio.DEVICE_FLAGS_PCI) == 0 || regions.size() <= Vfio.PCI_CONFIG_REGION_INDEX
                || regions.get(Vfio.PCI_CONFIG_REGION_INDEX).size() < PCI_HEADER_BYTES) {
            return Optional.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = arena.allocate(PCI_HEADER_BYTES);
            device.regionRead(Vfio.PCI_CONFIG_REGION_INDEX, 0, header);
            var u16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            int classCode = (u8(header, 0x0b) << 16) | (u8(header, 0x0a) << 8) | u8(header, 0x09);
            return Optional.of(new PciIdentity(Short.toUnsignedInt(header.get(u16, 0x00)), Short.toUnsignedInt(header.get(u16, 0x02)),
                    Short.toUnsignedInt(header.get(u16, 0x2c)), Short.toUnsignedInt(header.get(u16, 0x2e)), u8(header, 0x08),
                    classCode, u8(header, 0x0e)));
        }
    }

    private static int u8(MemorySegment segment, long offset) {
        return Byte.toUnsignedInt(segment.get(JAVA_BYTE, offset));
    }
}
