package io.jvfio.cli;

import io.jvfio.protocol.Vfio;
import java.util.StringJoiner;

/** Names of VFIO regions, interrupts and flags, as {@code lspci} and {@code trace} print them. */
public final class VfioNames {
    private VfioNames() {}

    public static String regionName(int index) {
        return switch (index) {
            case Vfio.PCI_BAR0_REGION_INDEX, Vfio.PCI_BAR1_REGION_INDEX, Vfio.PCI_BAR2_REGION_INDEX,
                 Vfio.PCI_BAR3_REGION_INDEX, Vfio.PCI_BAR4_REGION_INDEX, Vfio.PCI_BAR5_REGION_INDEX -> "BAR" + index;
            case Vfio.PCI_ROM_REGION_INDEX -> "ROM";
            case Vfio.PCI_CONFIG_REGION_INDEX -> "CONFIG";
            case Vfio.PCI_VGA_REGION_INDEX -> "VGA";
            default -> "region " + index;
        };
    }

    public static String irqName(int index) {
        return switch (index) {
            case Vfio.PCI_INTX_IRQ_INDEX -> "INTx";
            case Vfio.PCI_MSI_IRQ_INDEX -> "MSI";
            case Vfio.PCI_MSIX_IRQ_INDEX -> "MSI-X";
            case Vfio.PCI_ERR_IRQ_INDEX -> "ERR";
            case Vfio.PCI_REQ_IRQ_INDEX -> "REQ";
            default -> "irq " + index;
        };
    }

    public static String deviceFlags(int flags) {
        return names(flags, new int[] {Vfio.DEVICE_FLAGS_RESET, Vfio.DEVICE_FLAGS_PCI, Vfio.DEVICE_FLAGS_PLATFORM,
                Vfio.DEVICE_FLAGS_AMBA, Vfio.DEVICE_FLAGS_CCW, Vfio.DEVICE_FLAGS_AP, Vfio.DEVICE_FLAGS_FSL_MC,
                Vfio.DEVICE_FLAGS_CAPS, Vfio.DEVICE_FLAGS_CDX},
                new String[] {"RESET", "PCI", "PLATFORM", "AMBA", "CCW", "AP", "FSL_MC", "CAPS", "CDX"});
    }

    public static String regionFlags(int flags) {
        return names(flags, new int[] {Vfio.REGION_INFO_FLAG_READ, Vfio.REGION_INFO_FLAG_WRITE,
                Vfio.REGION_INFO_FLAG_MMAP, Vfio.REGION_INFO_FLAG_CAPS}, new String[] {"R", "W", "MMAP", "CAPS"});
    }

    public static String irqFlags(int flags) {
        return names(flags, new int[] {Vfio.IRQ_INFO_EVENTFD, Vfio.IRQ_INFO_MASKABLE, Vfio.IRQ_INFO_AUTOMASKED,
                Vfio.IRQ_INFO_NORESIZE}, new String[] {"EVENTFD", "MASKABLE", "AUTOMASKED", "NORESIZE"});
    }

    /** {@code R,W,MMAP}; {@code none} for 0; unknown bits as hex. */
    public static String names(int flags, int[] bits, String[] names) {
        StringJoiner j = new StringJoiner(",");
        int rest = flags;
        for (int i = 0; i < bits.length; i++) {
            if ((flags & bits[i]) != 0) {
                j.add(names[i]);
                rest &= ~bits[i];
            }
        }
        if (rest != 0) {
            j.add("0x" + Integer.toHexString(rest));
        }
        return j.length() == 0 ? "none" : j.toString();
    }
}
