package io.jvfio.pci;

/** Capability IDs: standard ones (8-bit, in the list at 0x34) and extended ones (16-bit, from 0x100). */
public final class PciCapabilityIds {
    private PciCapabilityIds() {}

    public static final int POWER_MANAGEMENT = 0x01;
    public static final int AGP = 0x02;
    public static final int VPD = 0x03;
    public static final int SLOT_ID = 0x04;
    public static final int MSI = 0x05;
    public static final int HOT_SWAP = 0x06;
    public static final int PCI_X = 0x07;
    public static final int HYPERTRANSPORT = 0x08;
    public static final int VENDOR_SPECIFIC = 0x09;
    public static final int DEBUG_PORT = 0x0A;
    public static final int COMPACT_PCI_CRC = 0x0B;
    public static final int HOT_PLUG = 0x0C;
    public static final int BRIDGE_SUBSYSTEM_VENDOR = 0x0D;
    public static final int AGP_8X = 0x0E;
    public static final int SECURE_DEVICE = 0x0F;
    public static final int PCI_EXPRESS = 0x10;
    public static final int MSIX = 0x11;
    public static final int SATA = 0x12;
    public static final int ADVANCED_FEATURES = 0x13;
    public static final int ENHANCED_ALLOCATION = 0x14;
    public static final int FLATTENING_PORTAL_BRIDGE = 0x15;
    public static final int MAX_STANDARD = 0xFF;

    public static final int EXT_ADVANCED_ERROR_REPORTING = 0x0001;
    public static final int EXT_VIRTUAL_CHANNEL = 0x0002;
    public static final int EXT_DEVICE_SERIAL_NUMBER = 0x0003;
    public static final int EXT_POWER_BUDGETING = 0x0004;
    public static final int EXT_VENDOR_SPECIFIC = 0x000B;
    public static final int EXT_ACS = 0x000D;
    public static final int EXT_ARI = 0x000E;
    public static final int EXT_ATS = 0x000F;
    public static final int EXT_SRIOV = 0x0010;
    public static final int EXT_LTR = 0x0018;
    public static final int EXT_PASID = 0x001B;
    public static final int MAX_EXTENDED = 0xFFFF;
}
