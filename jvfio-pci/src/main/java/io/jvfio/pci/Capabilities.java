package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.CapabilityHeader;
import io.jvfio.pci.PciRegisters.Msi;
import io.jvfio.pci.PciRegisters.Msix;
import io.jvfio.pci.PciRegisters.PciExpress;
import io.jvfio.pci.PciRegisters.PowerManagement;
import io.jvfio.pci.PciRegisters.VendorSpecific;

/** Factories for the standard capabilities this module models. */
public final class Capabilities {
    private Capabilities() {}

    /** Power Management 1.2 supporting D0 and D3hot only, no PME; D3hot to D0 resets the device. */
    public static Capability powerManagement() {
        return powerManagement(false);
    }

    /**
     * Power Management 1.2 supporting D0 and D3hot only, no PME.
     *
     * @param noSoftReset the device keeps its state across D3hot to D0 (so the guest cannot use that
     *                    transition as a reset)
     */
    public static Capability powerManagement(boolean noSoftReset) {
        RegisterImage image = new RegisterImage(PowerManagement.SIZE)
                .value(PowerManagement.PMC, 2, PowerManagement.PMC_VERSION_1_2)
                .value(PowerManagement.PMCSR, 2, noSoftReset ? PowerManagement.PMCSR_NO_SOFT_RESET : 0)
                .writable(PowerManagement.PMCSR, 2, PowerManagement.PMCSR_POWER_STATE_MASK)
                // The spec has writes of an unsupported state (D1, D2) ignored.
                .fixup(PowerManagement.PMCSR, 2, (before, after) -> {
                    int state = after & PowerManagement.PMCSR_POWER_STATE_MASK;
                    boolean supported = state == PowerManagement.STATE_D0 || state == PowerManagement.STATE_D3_HOT;
                    return supported ? after
                            : (after & ~PowerManagement.PMCSR_POWER_STATE_MASK)
                                    | (before & PowerManagement.PMCSR_POWER_STATE_MASK);
                });
        return new Capability(PciCapabilityIds.POWER_MANAGEMENT, image);
    }

    /**
     * MSI.
     *
     * @param vectors          vectors requested, a power of two from 1 to 32
     * @param address64        whether the message address has an upper dword
     * @param perVectorMasking whether mask and pending bits exist
     */
    public static Capability msi(int vectors, boolean address64, boolean perVectorMasking) {
        if (vectors < 1 || vectors > Msi.MAX_VECTORS || Integer.bitCount(vectors) != 1) {
            throw new IllegalArgumentException("MSI vectors " + vectors + " is not a power of two from 1 to 32");
        }
        int log2Vectors = Integer.numberOfTrailingZeros(vectors);
        int flags = (log2Vectors << Msi.FLAGS_MULTIPLE_CAPABLE_SHIFT)
                | (address64 ? Msi.FLAGS_64BIT : 0)
                | (perVectorMasking ? Msi.FLAGS_PER_VECTOR_MASK : 0);
        int length = address64
                ? (perVectorMasking ? Msi.SIZE_64_MASKED : Msi.SIZE_64)
                : (perVectorMasking ? Msi.SIZE_32_MASKED : Msi.SIZE_32);
        int dataOffset = address64 ? Msi.DATA_64 : Msi.DATA_32;
        RegisterImage image = new RegisterImage(length)
                .value(Msi.FLAGS, 2, flags)
                .writable(Msi.FLAGS, 2, Msi.FLAGS_ENABLE | Msi.FLAGS_MULTIPLE_ENABLE_MASK)
                .fixup(Msi.FLAGS, 2, (before, after) -> clampMultipleMessageEnable(after))
                .writable(Msi.ADDRESS_LO, 4, ~Msi.ADDRESS_LO_RESERVED)
                .writable(dataOffset, Msi.DATA_SIZE, 0xFFFF);
        if (address64) {
            image.writable(Msi.ADDRESS_HI, 4, 0xFFFF_FFFFL);
        }
        if (perVectorMasking) {
            long vectorBits = (1L << vectors) - 1;
            image.writable(address64 ? Msi.MASK_64 : Msi.MASK_32, 4, vectorBits);
        }
        return new Capability(PciCapabilityIds.MSI, image);
    }

    /** The guest may not enable more vectors than the device asks for; like QEMU, grant the most allowed. */
    private static int clampMultipleMessageEnable(int flags) {
        int capable = (flags & Msi.FLAGS_MULTIPLE_CAPABLE_MASK) >>> Msi.FLAGS_MULTIPLE_CAPABLE_SHIFT;
        int enabled = (flags & Msi.FLAGS_MULTIPLE_ENABLE_MASK) >>> Msi.FLAGS_MULTIPLE_ENABLE_SHIFT;
        if (enabled <= capable) {
            return flags;
        }
        return (flags & ~Msi.FLAGS_MULTIPLE_ENABLE_MASK) | (capable << Msi.FLAGS_MULTIPLE_ENABLE_SHIFT);
    }

    /**
     * MSI-X. {@link ConfigSpaceBuilder#build()} checks that the table and PBA fit in declared memory BARs.
     *
     * @param tableSize   vectors, 1 to 2048
     * @param tableBar    BAR index holding the table
     * @param tableOffset table's offset in that BAR, 8-byte aligned
     * @param pbaBar      BAR index holding the pending bit array
     * @param pbaOffset   PBA's offset in that BAR, 8-byte aligned
     */
    public static Capability msix(int tableSize, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
        if (tableSize < 1 || tableSize > Msix.MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X table size " + tableSize + " is outside 1-" + Msix.MAX_VECTORS);
        }
        int table = offsetAndBir("table", tableBar, tableOffset);
        int pba = offsetAndBir("PBA", pbaBar, pbaOffset);
        RegisterImage image = new RegisterImage(Msix.SIZE)
                .value(Msix.FLAGS, 2, tableSize - 1)
                .writable(Msix.FLAGS, 2, Msix.FLAGS_ENABLE | Msix.FLAGS_FUNCTION_MASK)
                .value(Msix.TABLE, 4, table)
                .value(Msix.PBA, 4, pba);
        return new Capability(PciCapabilityIds.MSIX, image);
    }

    private static int offsetAndBir(String what, int bar, long offset) {
        if (bar < 0 || bar >= PciRegisters.BAR_COUNT) {
            throw new IllegalArgumentException("MSI-X " + what + " BAR " + bar + " is outside 0-5");
        }
        if (offset < 0 || offset > 0xFFFF_FFFFL || (offset & Msix.BIR_MASK) != 0) {
            throw new IllegalArgumentException(
                    "MSI-X " + what + " offset 0x" + Long.toHexString(offset) + " is not an 8-byte aligned 32-bit offset");
        }
        return (int) offset | bar;
    }

    /** PCI Express capability version 2, Gen1 x1 link, 128-byte max payload, no Function Level Reset. */
    public static Capability pciExpress(PcieDeviceType type) {
        return pciExpress(type, false);
    }

    /**
     * PCI Express capability version 2, Gen1 x1 link (none for a root-complex integrated endpoint),
     * 128-byte max payload.
     *
     * @param functionLevelReset advertise FLR; a guest write of Initiate FLR reaches write listeners
     *                           on Device Control with that bit set, and it reads back 0
     */
    public static Capability pciExpress(PcieDeviceType type, boolean functionLevelReset) {
        int deviceControlWritable = PciExpress.DEVCTL_CORRECTABLE_ERROR_REPORTING
                | PciExpress.DEVCTL_NON_FATAL_ERROR_REPORTING
                | PciExpress.DEVCTL_FATAL_ERROR_REPORTING
                | PciExpress.DEVCTL_UNSUPPORTED_REQUEST_REPORTING
                | PciExpress.DEVCTL_RELAXED_ORDERING
                | PciExpress.DEVCTL_MAX_PAYLOAD_MASK
                | PciExpress.DEVCTL_NO_SNOOP
                | PciExpress.DEVCTL_MAX_READ_REQUEST_MASK;
        RegisterImage image = new RegisterImage(PciExpress.SIZE_V2)
                .value(PciExpress.FLAGS, 2, PciExpress.FLAGS_VERSION_2 | (type.code() << PciExpress.FLAGS_TYPE_SHIFT))
                .value(PciExpress.DEVCAP, 4,
                        PciExpress.DEVCAP_ROLE_BASED_ERROR | (functionLevelReset ? PciExpress.DEVCAP_FLR : 0))
                // The spec's power-on defaults: relaxed ordering and no-snoop on, 512-byte read requests.
                .value(PciExpress.DEVCTL, 2, PciExpress.DEVCTL_RELAXED_ORDERING | PciExpress.DEVCTL_NO_SNOOP
                        | PciExpress.DEVCTL_MAX_READ_REQUEST_512)
                .writable(PciExpress.DEVCTL, 2, deviceControlWritable)
                .writeOneToClear(PciExpress.DEVSTA, 2, PciExpress.DEVSTA_ERROR_BITS)
                .value(PciExpress.DEVCAP2, 4, PciExpress.DEVCAP2_COMPLETION_TIMEOUT_DISABLE)
                .writable(PciExpress.DEVCTL2, 2, PciExpress.DEVCTL2_COMPLETION_TIMEOUT_DISABLE);
        if (functionLevelReset) {
            image.strobe(PciExpress.DEVCTL, 2, PciExpress.DEVCTL_INITIATE_FLR);
        }
        if (type.hasLink()) {
            int speedAndWidth = PciExpress.LINK_SPEED_2_5GT | (PciExpress.LINK_WIDTH_X1 << PciExpress.LINK_WIDTH_SHIFT);
            image.value(PciExpress.LNKCAP, 4, speedAndWidth)
                    .writable(PciExpress.LNKCTL, 2, PciExpress.LNKCTL_ASPM_MASK
                            | PciExpress.LNKCTL_READ_COMPLETION_BOUNDARY
                            | PciExpress.LNKCTL_COMMON_CLOCK
                            | PciExpress.LNKCTL_EXTENDED_SYNCH)
                    .value(PciExpress.LNKSTA, 2, speedAndWidth)
                    .value(PciExpress.LNKCAP2, 4, PciExpress.LNKCAP2_SPEED_2_5GT)
                    .value(PciExpress.LNKCTL2, 2, PciExpress.LINK_SPEED_2_5GT);
        }
        return new Capability(PciCapabilityIds.PCI_EXPRESS, image);
    }

    /** Vendor-specific capability with read-only data: [id, next, length, data...]. */
    public static Capability vendorSpecific(byte[] data) {
        return vendorSpecific(data, new byte[data.length]);
    }

    /**
     * Vendor-specific capability: [id, next, length, data...].
     *
     * @param writableMask per byte of {@code data}, the bits a guest may change
     */
    public static Capability vendorSpecific(byte[] data, byte[] writableMask) {
        if (data.length != writableMask.length) {
            throw new IllegalArgumentException("data is " + data.length + " bytes but its mask is " + writableMask.length);
        }
        int length = VendorSpecific.DATA + data.length;
        if (length > VendorSpecific.MAX_SIZE) {
            throw new IllegalArgumentException("vendor-specific capability of " + length + " bytes exceeds its 8-bit length field");
        }
        RegisterImage image = new RegisterImage(length).value(VendorSpecific.LENGTH, 1, length);
        System.arraycopy(data, 0, image.values, VendorSpecific.DATA, data.length);
        System.arraycopy(writableMask, 0, image.writable, VendorSpecific.DATA, data.length);
        return new Capability(PciCapabilityIds.VENDOR_SPECIFIC, image);
    }

    static int alignedLength(int length) {
        int alignment = CapabilityHeader.ALIGNMENT;
        return (length + alignment - 1) & -alignment;
    }
}
