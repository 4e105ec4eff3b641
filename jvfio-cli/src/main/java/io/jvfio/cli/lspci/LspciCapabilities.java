package io.jvfio.cli.lspci;

import static io.jvfio.cli.lspci.LspciFormatter.flag;

import io.jvfio.pci.PciCapabilityIds;
import io.jvfio.pci.PciRegisters;
import io.jvfio.pci.PciRegisters.CapabilityHeader;
import io.jvfio.pci.PciRegisters.DeviceSerialNumber;
import io.jvfio.pci.PciRegisters.ExtendedCapabilityHeader;
import io.jvfio.pci.PciRegisters.Msi;
import io.jvfio.pci.PciRegisters.Msix;
import io.jvfio.pci.PciRegisters.PowerManagement;
import io.jvfio.pci.PciRegisters.VendorSpecific;

/**
 * The {@code Capabilities:} lines of {@code jvfio lspci}: the standard list from 0x34 and, for PCI
 * Express functions with a 4 KiB space, the extended chain from 0x100, in lspci's words. Loops and
 * broken chains are reported the way lspci reports them, never followed.
 */
final class LspciCapabilities {
    // Power Management Capabilities register bits lspci shows (PciRegisters has the ones the core uses).
    private static final int PMC_PME_CLOCK = 1 << 3;
    private static final int PMC_DSI = 1 << 5;
    private static final int PMC_AUX_CURRENT_SHIFT = 6;
    private static final int PMC_AUX_CURRENT_MASK = 0x7 << PMC_AUX_CURRENT_SHIFT;
    private static final int PMC_PME_SHIFT = 11;
    private static final int PMCSR_DATA_SELECT_SHIFT = 9;
    private static final int PMCSR_DATA_SELECT_MASK = 0xf << PMCSR_DATA_SELECT_SHIFT;
    private static final int PMCSR_DATA_SCALE_SHIFT = 13;
    private static final int PMCSR_DATA_SCALE_MASK = 0x3 << PMCSR_DATA_SCALE_SHIFT;
    private static final int[] AUX_CURRENT_MA = {0, 55, 100, 160, 220, 270, 320, 375};
    private static final int EXT_VENDOR_HEADER = 4;
    private static final int EXT_VENDOR_LENGTH_SHIFT = 20;
    private static final int EXT_VENDOR_REV_SHIFT = 16;
    private static final int MAX_STANDARD_CAPS = 48;

    private final LspciConfig config;
    private final int verbose;
    private final StringBuilder out;

    LspciCapabilities(LspciConfig config, int verbose, StringBuilder out) {
        this.config = config;
        this.verbose = verbose;
        this.out = out;
    }

    void show() {
        boolean express = false;
        if ((config.u16(PciRegisters.STATUS) & PciRegisters.Status.CAPABILITY_LIST) != 0) {
            boolean[] seen = new boolean[PciRegisters.STANDARD_SPACE_END];
            int where = config.u8(PciRegisters.CAPABILITY_LIST) & ~(CapabilityHeader.ALIGNMENT - 1);
            for (int n = 0; where != 0; n++) {
                out.append("\tCapabilities: ");
                if (!config.has(where, 4) || where >= PciRegisters.STANDARD_SPACE_END || n > MAX_STANDARD_CAPS) {
                    out.append("<access denied>\n");
                    break;
                }
                int id = config.u8(where + CapabilityHeader.ID);
                int next = config.u8(where + CapabilityHeader.NEXT) & ~(CapabilityHeader.ALIGNMENT - 1);
                int cap = config.u16(where + CapabilityHeader.SIZE);
                out.append("[%02x] ".formatted(where));
                if (seen[where]) {
                    out.append("<chain looped>\n");
                    break;
                }
                seen[where] = true;
                if (id == 0xff) {
                    out.append("<chain broken>\n");
                    break;
                }
                switch (id) {
                    case 0 -> out.append("Null\n");
                    case PciCapabilityIds.POWER_MANAGEMENT -> powerManagement(where, cap);
                    case PciCapabilityIds.AGP -> out.append("AGP version %x.%x\n".formatted((cap >> 4) & 0x0f, cap & 0x0f));
                    case PciCapabilityIds.VPD -> out.append("Vital Product Data\n");
                    case PciCapabilityIds.SLOT_ID -> out.append("Slot ID: %d slots, First%c, chassis %02x\n"
                            .formatted(cap & 0x1f, flag(cap, 0x20), cap >> 8));
                    case PciCapabilityIds.MSI -> msi(where, cap);
                    case PciCapabilityIds.HOT_SWAP -> out.append("CompactPCI hot-swap <?>\n");
                    case PciCapabilityIds.PCI_X -> out.append("PCI-X <?>\n");
                    case PciCapabilityIds.HYPERTRANSPORT -> out.append("HyperTransport <?>\n");
                    case PciCapabilityIds.VENDOR_SPECIFIC -> out.append("Vendor Specific Information: Len=%02x <?>\n"
                            .formatted(config.u8(where + VendorSpecific.LENGTH)));
                    case PciCapabilityIds.DEBUG_PORT -> out.append("Debug port: BAR=%d offset=%04x\n"
                            .formatted(cap >> 13, cap & 0x1fff));
                    case PciCapabilityIds.COMPACT_PCI_CRC -> out.append("CompactPCI central resource control <?>\n");
                    case PciCapabilityIds.HOT_PLUG -> out.append("Hot-plug capable\n");
                    case PciCapabilityIds.BRIDGE_SUBSYSTEM_VENDOR -> out.append("Subsystem: Device %04x:%04x\n"
                            .formatted(config.u16(where + 4), config.u16(where + 6)));
                    case PciCapabilityIds.AGP_8X -> out.append("AGP3 <?>\n");
                    case PciCapabilityIds.SECURE_DEVICE -> out.append("Secure device <?>\n");
                    case PciCapabilityIds.PCI_EXPRESS -> {
                        express = true;
                        new LspciExpress(config, verbose, out).show(where, cap);
                    }
                    case PciCapabilityIds.MSIX -> msix(where, cap);
                    case PciCapabilityIds.SATA -> out.append("SATA HBA v%d.%d <?>\n".formatted((cap >> 4) & 0xf, cap & 0xf));
                    case PciCapabilityIds.ADVANCED_FEATURES -> out.append("PCI Advanced Features\n");
                    case PciCapabilityIds.ENHANCED_ALLOCATION -> out.append("Enhanced Allocation (EA) <?>\n");
                    case PciCapabilityIds.FLATTENING_PORTAL_BRIDGE -> out.append("Flattening Portal Bridge <?>\n");
                    default -> out.append("#%02x [%04x]\n".formatted(id, cap));
                }
                where = next;
            }
        }
        if (express && config.size() > PciRegisters.EXTENDED_CAPABILITIES_START) {
            extended();
        }
    }

    private void powerManagement(int where, int pmc) {
        out.append("Power Management version %d\n".formatted(pmc & PowerManagement.PMC_VERSION_MASK));
        if (verbose < 2) {
            return;
        }
        int pme = pmc >>> PMC_PME_SHIFT;
        out.append("\t\tFlags: PMEClk%c DSI%c D1%c D2%c AuxCurrent=%dmA PME(D0%c,D1%c,D2%c,D3hot%c,D3cold%c)\n".formatted(
                flag(pmc, PMC_PME_CLOCK), flag(pmc, PMC_DSI),
                flag(pmc, PowerManagement.PMC_D1_SUPPORT), flag(pmc, PowerManagement.PMC_D2_SUPPORT),
                AUX_CURRENT_MA[(pmc & PMC_AUX_CURRENT_MASK) >>> PMC_AUX_CURRENT_SHIFT],
                flag(pme, 1), flag(pme, 2), flag(pme, 4), flag(pme, 8), flag(pme, 16)));
        int csr = config.u16(where + PowerManagement.PMCSR);
        out.append("\t\tStatus: D%d NoSoftRst%c PME-Enable%c DSel=%d DScale=%d PME%c\n".formatted(
                csr & PowerManagement.PMCSR_POWER_STATE_MASK,
                flag(csr, PowerManagement.PMCSR_NO_SOFT_RESET),
                flag(csr, PowerManagement.PMCSR_PME_ENABLE),
                (csr & PMCSR_DATA_SELECT_MASK) >>> PMCSR_DATA_SELECT_SHIFT,
                (csr & PMCSR_DATA_SCALE_MASK) >>> PMCSR_DATA_SCALE_SHIFT,
                flag(csr, PowerManagement.PMCSR_PME_STATUS)));
    }

    private void msi(int where, int flags) {
        boolean is64 = (flags & Msi.FLAGS_64BIT) != 0;
        boolean maskable = (flags & Msi.FLAGS_PER_VECTOR_MASK) != 0;
        out.append("MSI: Enable%c Count=%d/%d Maskable%c 64bit%c\n".formatted(
                flag(flags, Msi.FLAGS_ENABLE),
                1 << ((flags & Msi.FLAGS_MULTIPLE_ENABLE_MASK) >>> Msi.FLAGS_MULTIPLE_ENABLE_SHIFT),
                1 << ((flags & Msi.FLAGS_MULTIPLE_CAPABLE_MASK) >>> Msi.FLAGS_MULTIPLE_CAPABLE_SHIFT),
                maskable ? '+' : '-', is64 ? '+' : '-'));
        if (verbose < 2) {
            return;
        }
        long low = config.u32(where + Msi.ADDRESS_LO);
        if (is64) {
            out.append("\t\tAddress: %08x%08x  Data: %04x\n".formatted(config.u32(where + Msi.ADDRESS_HI), low,
                    config.u16(where + Msi.DATA_64)));
        } else {
            out.append("\t\tAddress: %08x  Data: %04x\n".formatted(low, config.u16(where + Msi.DATA_32)));
        }
        if (maskable) {
            out.append("\t\tMasking: %08x  Pending: %08x\n".formatted(
                    config.u32(where + (is64 ? Msi.MASK_64 : Msi.MASK_32)),
                    config.u32(where + (is64 ? Msi.PENDING_64 : Msi.PENDING_32))));
        }
    }

    private void msix(int where, int flags) {
        out.append("MSI-X: Enable%c Count=%d Masked%c\n".formatted(flag(flags, Msix.FLAGS_ENABLE),
                (flags & Msix.FLAGS_TABLE_SIZE_MASK) + 1, flag(flags, Msix.FLAGS_FUNCTION_MASK)));
        if (verbose < 2) {
            return;
        }
        long table = config.u32(where + Msix.TABLE);
        long pba = config.u32(where + Msix.PBA);
        out.append("\t\tVector table: BAR=%d offset=%08x\n".formatted(table & Msix.BIR_MASK, table & ~Msix.BIR_MASK & 0xffff_ffffL));
        out.append("\t\tPBA: BAR=%d offset=%08x\n".formatted(pba & Msix.BIR_MASK, pba & ~Msix.BIR_MASK & 0xffff_ffffL));
    }

    private void extended() {
        boolean[] seen = new boolean[config.size()];
        int where = PciRegisters.EXTENDED_CAPABILITIES_START;
        while (where != 0) {
            if (!config.has(where, ExtendedCapabilityHeader.SIZE)) {
                break;
            }
            long header = config.u32(where);
            if (header == 0 || header == 0xffff_ffffL) {
                break;
            }
            int id = (int) (header & ExtendedCapabilityHeader.ID_MASK);
            int version = (int) (header >>> ExtendedCapabilityHeader.VERSION_SHIFT) & ExtendedCapabilityHeader.VERSION_MASK;
            out.append("\tCapabilities: [%03x".formatted(where));
            if (verbose > 1) {
                out.append(" v").append(version);
            }
            out.append("] ");
            if (seen[where]) {
                out.append("<chain looped>\n");
                break;
            }
            seen[where] = true;
            switch (id) {
                case 0 -> out.append("Null\n");
                case PciCapabilityIds.EXT_ADVANCED_ERROR_REPORTING -> out.append("Advanced Error Reporting\n");
                case PciCapabilityIds.EXT_VIRTUAL_CHANNEL -> out.append("Virtual Channel\n");
                case PciCapabilityIds.EXT_DEVICE_SERIAL_NUMBER -> {
                    long low = config.u32(where + DeviceSerialNumber.SERIAL_LO);
                    long high = config.u32(where + DeviceSerialNumber.SERIAL_HI);
                    out.append("Device Serial Number %s\n".formatted(serial(high << 32 | low)));
                }
                case PciCapabilityIds.EXT_POWER_BUDGETING -> out.append("Power Budgeting <?>\n");
                case PciCapabilityIds.EXT_VENDOR_SPECIFIC -> {
                    long vendorHeader = config.u32(where + EXT_VENDOR_HEADER);
                    out.append("Vendor Specific Information: ID=%04x Rev=%d Len=%03x <?>\n".formatted(
                            vendorHeader & 0xffff, (vendorHeader >>> EXT_VENDOR_REV_SHIFT) & 0xf,
                            vendorHeader >>> EXT_VENDOR_LENGTH_SHIFT));
                }
                case PciCapabilityIds.EXT_ACS -> out.append("Access Control Services\n");
                case PciCapabilityIds.EXT_ARI -> out.append("Alternative Routing-ID Interpretation (ARI)\n");
                case PciCapabilityIds.EXT_ATS -> out.append("Address Translation Service (ATS)\n");
                case PciCapabilityIds.EXT_SRIOV -> out.append("Single Root I/O Virtualization (SR-IOV)\n");
                case PciCapabilityIds.EXT_LTR -> out.append("Latency Tolerance Reporting\n");
                case PciCapabilityIds.EXT_PASID -> out.append("Process Address Space ID (PASID)\n");
                default -> out.append("Extended Capability ID %#02x\n".formatted(id));
            }
            where = (int) (header >>> ExtendedCapabilityHeader.NEXT_SHIFT) & ExtendedCapabilityHeader.NEXT_MASK
                    & ~(CapabilityHeader.ALIGNMENT - 1);
            if (where != 0 && where < PciRegisters.EXTENDED_CAPABILITIES_START) {
                out.append("\tCapabilities: [%03x] <chain broken>\n".formatted(where));
                break;
            }
        }
    }

    /** {@code 01-23-45-67-89-ab-cd-ef}, most significant byte first, as lspci prints a DSN. */
    static String serial(long value) {
        StringBuilder s = new StringBuilder();
        for (int shift = 56; shift >= 0; shift -= 8) {
            if (shift != 56) {
                s.append('-');
            }
            s.append("%02x".formatted((value >>> shift) & 0xff));
        }
        return s.toString();
    }
}
