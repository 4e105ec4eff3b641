package io.jvfio.pci;

import io.jvfio.pci.ConfigSpace.Size;
import io.jvfio.pci.PciRegisters.CapabilityHeader;
import io.jvfio.pci.PciRegisters.Command;
import io.jvfio.pci.PciRegisters.ExtendedCapabilityHeader;
import io.jvfio.pci.PciRegisters.Rom;
import io.jvfio.pci.PciRegisters.Status;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Declares a PCI function's configuration space — identity, BARs, expansion ROM, capabilities —
 * and, in {@link #build()}, validates the whole and lays it out: header registers and their write
 * masks, the capability list and extended-capability chain, and the MSI-X table and PBA checked
 * against the declared BARs. Get one from {@link ConfigSpace#builder(ConfigSpace.Size)}.
 */
public final class ConfigSpaceBuilder {
    private static final int UNSET = -1;

    private final Size size;
    private int vendorId = UNSET;
    private int deviceId = UNSET;
    private int subsystemVendorId;
    private int subsystemId;
    private int classCode;
    private int revision;
    private int interruptPin;
    private long romSize;
    private final Bar[] barsBySlot = new Bar[PciRegisters.BAR_COUNT];
    private final List<Capability> capabilities = new ArrayList<>();
    private final List<ExtendedCapability> extendedCapabilities = new ArrayList<>();

    ConfigSpaceBuilder(Size size) {
        this.size = Objects.requireNonNull(size, "size");
    }

    public ConfigSpaceBuilder vendorId(int vendorId) {
        this.vendorId = requireU16("vendor ID", vendorId);
        if (vendorId == PciRegisters.VENDOR_ID_INVALID) {
            throw new IllegalArgumentException("vendor ID 0xffff means 'no device'");
        }
        return this;
    }

    public ConfigSpaceBuilder deviceId(int deviceId) {
        this.deviceId = requireU16("device ID", deviceId);
        return this;
    }

    public ConfigSpaceBuilder subsystemVendorId(int subsystemVendorId) {
        this.subsystemVendorId = requireU16("subsystem vendor ID", subsystemVendorId);
        return this;
    }

    public ConfigSpaceBuilder subsystemId(int subsystemId) {
        this.subsystemId = requireU16("subsystem ID", subsystemId);
        return this;
    }

    /** Base class, subclass and programming interface, e.g. 0x010802 for an NVMe controller. */
    public ConfigSpaceBuilder classCode(int classCode) {
        if (classCode < 0 || classCode > 0xFF_FFFF) {
            throw new IllegalArgumentException("class code 0x" + Integer.toHexString(classCode) + " does not fit 24 bits");
        }
        this.classCode = classCode;
        return this;
    }

    public ConfigSpaceBuilder revision(int revision) {
        if (revision < 0 || revision > 0xFF) {
            throw new IllegalArgumentException("revision " + revision + " does not fit 8 bits");
        }
        this.revision = revision;
        return this;
    }

    /** 0 for no INTx, 1-4 for INTA-INTD. */
    public ConfigSpaceBuilder interruptPin(int interruptPin) {
        if (interruptPin < 0 || interruptPin > PciRegisters.INTERRUPT_PIN_MAX) {
            throw new IllegalArgumentException("interrupt pin " + interruptPin + " is outside 0 (none) to 4 (INTD)");
        }
        this.interruptPin = interruptPin;
        return this;
    }

    /** Declares an expansion ROM of {@code size} bytes (a power of two, at least 2 KiB). */
    public ConfigSpaceBuilder expansionRom(long size) {
        if (size < Rom.MIN_SIZE || size > 1L << 31 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("expansion ROM size " + size + " is not a power of two from 2 KiB to 2 GiB");
        }
        this.romSize = size;
        return this;
    }

    public ConfigSpaceBuilder bar(Bar bar) {
        Objects.requireNonNull(bar, "bar");
        for (int slot = bar.index(); slot < bar.index() + bar.slots(); slot++) {
            Bar holder = barsBySlot[slot];
            if (holder == null && slot > 0 && barsBySlot[slot - 1] != null && barsBySlot[slot - 1].is64Bit()) {
                holder = barsBySlot[slot - 1];
            }
            if (holder != null) {
                throw new IllegalArgumentException("BAR " + bar.index() + " (" + bar.type() + ") overlaps BAR "
                        + holder.index() + " (" + holder.type() + ") at slot " + slot);
            }
        }
        barsBySlot[bar.index()] = bar;
        return this;
    }

    public ConfigSpaceBuilder capability(Capability capability) {
        Objects.requireNonNull(capability, "capability");
        if (capability.id() != PciCapabilityIds.VENDOR_SPECIFIC
                && capabilities.stream().anyMatch(c -> c.id() == capability.id())) {
            throw new IllegalArgumentException("capability 0x" + Integer.toHexString(capability.id()) + " declared twice");
        }
        capabilities.add(capability);
        return this;
    }

    public ConfigSpaceBuilder extendedCapability(ExtendedCapability capability) {
        Objects.requireNonNull(capability, "capability");
        if (size != Size.PCIE) {
            throw new IllegalArgumentException(
                    "extended capabilities need the 4096-byte PCI Express config space, not " + size.bytes() + " bytes");
        }
        if (capability.id() != PciCapabilityIds.EXT_VENDOR_SPECIFIC
                && extendedCapabilities.stream().anyMatch(c -> c.id() == capability.id())) {
            throw new IllegalArgumentException(
                    "extended capability 0x" + Integer.toHexString(capability.id()) + " declared twice");
        }
        extendedCapabilities.add(capability);
        return this;
    }

    private Stream<Bar> barsBySlot() {
        return Arrays.stream(barsBySlot).filter(Objects::nonNull);
    }

    public ConfigSpace build() {
        if (vendorId == UNSET || deviceId == UNSET) {
            throw new IllegalStateException("vendor ID and device ID must be declared");
        }
        RegisterImage image = new RegisterImage(size.bytes());
        boolean pciExpress = capabilities.stream().anyMatch(c -> c.id() == PciCapabilityIds.PCI_EXPRESS);
        declareHeader(image, pciExpress);
        declareBars(image);
        List<CapabilityInfo> placed = placeCapabilities(image);
        List<CapabilityInfo> placedExtended = placeExtendedCapabilities(image);
        checkMsixFitsBars(image, placed);
        return new ConfigSpace(size, image, barsBySlot, romSize, placed, placedExtended);
    }

    private void declareHeader(RegisterImage image, boolean pciExpress) {
        image.value(PciRegisters.VENDOR_ID, 2, vendorId)
                .value(PciRegisters.DEVICE_ID, 2, deviceId)
                .writable(PciRegisters.COMMAND, 2, Command.IO_SPACE | Command.MEMORY_SPACE | Command.BUS_MASTER
                        | Command.PARITY_ERROR_RESPONSE | Command.SERR_ENABLE | Command.INTX_DISABLE)
                .value(PciRegisters.STATUS, 2, capabilities.isEmpty() ? 0 : Status.CAPABILITY_LIST)
                .writeOneToClear(PciRegisters.STATUS, 2, Status.ERROR_BITS)
                .value(PciRegisters.REVISION_ID, 1, revision)
                .value(PciRegisters.CLASS_CODE, 3, classCode)
                .writable(PciRegisters.CACHE_LINE_SIZE, 1, 0xFF)
                .value(PciRegisters.HEADER_TYPE, 1, PciRegisters.HEADER_TYPE_NORMAL)
                .value(PciRegisters.SUBSYSTEM_VENDOR_ID, 2, subsystemVendorId)
                .value(PciRegisters.SUBSYSTEM_ID, 2, subsystemId)
                .writable(PciRegisters.INTERRUPT_LINE, 1, 0xFF)
                .value(PciRegisters.INTERRUPT_PIN, 1, interruptPin);
        // PCI Express hardwires the latency timer to 0; conventional PCI lets software tune it.
        if (!pciExpress) {
            image.writable(PciRegisters.LATENCY_TIMER, 1, 0xFF);
        }
        if (romSize != 0) {
            image.writable(PciRegisters.ROM_ADDRESS, 4, (~(romSize - 1) & Rom.ADDRESS_MASK) | Rom.ENABLE);
        }
    }

    private void declareBars(RegisterImage image) {
        barsBySlot().forEach(bar -> {
            int offset = PciRegisters.barOffset(bar.index());
            int registerBytes = 4 * bar.slots();
            image.value(offset, 4, bar.flags()).writable(offset, registerBytes, bar.addressMask());
        });
    }

    private List<CapabilityInfo> placeCapabilities(RegisterImage image) {
        List<CapabilityInfo> placed = new ArrayList<>();
        int offset = PciRegisters.HEADER_END;
        int previousNext = PciRegisters.CAPABILITY_LIST;
        for (Capability capability : capabilities) {
            if (offset + capability.length() > PciRegisters.STANDARD_SPACE_END) {
                throw new IllegalArgumentException("capabilities do not fit below 0x100: " + capability
                        + " would end at 0x" + Integer.toHexString(offset + capability.length()));
            }
            capability.image().copyInto(image, offset);
            image.value(offset + CapabilityHeader.ID, 1, capability.id());
            image.value(previousNext, 1, offset);
            previousNext = offset + CapabilityHeader.NEXT;
            placed.add(new CapabilityInfo(capability.id(), offset, capability.length()));
            offset += Capabilities.alignedLength(capability.length());
        }
        return placed;
    }

    private List<CapabilityInfo> placeExtendedCapabilities(RegisterImage image) {
        List<CapabilityInfo> placed = new ArrayList<>();
        int offset = PciRegisters.EXTENDED_CAPABILITIES_START;
        for (int i = 0; i < extendedCapabilities.size(); i++) {
            ExtendedCapability capability = extendedCapabilities.get(i);
            if (offset + capability.length() > size.bytes()) {
                throw new IllegalArgumentException("extended capabilities do not fit in " + size.bytes()
                        + " bytes: " + capability);
            }
            capability.image().copyInto(image, offset);
            int next = i + 1 < extendedCapabilities.size()
                    ? offset + Capabilities.alignedLength(capability.length()) : 0;
            image.value(offset, 4, capability.id()
                    | capability.version() << ExtendedCapabilityHeader.VERSION_SHIFT
                    | next << ExtendedCapabilityHeader.NEXT_SHIFT);
            placed.add(new CapabilityInfo(capability.id(), offset, capability.length()));
            offset += Capabilities.alignedLength(capability.length());
        }
        return placed;
    }

    private void checkMsixFitsBars(RegisterImage image, List<CapabilityInfo> placed) {
        for (CapabilityInfo info : placed) {
            if (info.id() != PciCapabilityIds.MSIX) {
                continue;
            }
            MsixCapability msix = ConfigSpace.decodeMsix(image.values, info.offset());
            long tableEnd = checkInMemoryBar("table", msix.tableBar(), msix.tableOffset(), msix.tableBytes());
            long pbaEnd = checkInMemoryBar("PBA", msix.pbaBar(), msix.pbaOffset(), msix.pbaBytes());
            if (msix.tableBar() == msix.pbaBar()
                    && msix.tableOffset() < pbaEnd && msix.pbaOffset() < tableEnd) {
                throw new IllegalArgumentException("MSI-X table and PBA overlap in BAR " + msix.tableBar());
            }
        }
    }

    private long checkInMemoryBar(String what, int index, long offset, long length) {
        Bar bar = barsBySlot[index];
        if (bar == null || !bar.isMemory()) {
            throw new IllegalArgumentException("MSI-X " + what + " is in BAR " + index + ", which is not a declared memory BAR");
        }
        if (offset + length > bar.size()) {
            throw new IllegalArgumentException("MSI-X " + what + " at 0x" + Long.toHexString(offset) + " (" + length
                    + " bytes) does not fit BAR " + index + " of " + bar.size() + " bytes");
        }
        return offset + length;
    }

    private static int requireU16(String what, int value) {
        if (value < 0 || value > 0xFFFF) {
            throw new IllegalArgumentException(what + " 0x" + Integer.toHexString(value) + " does not fit 16 bits");
        }
        return value;
    }
}
