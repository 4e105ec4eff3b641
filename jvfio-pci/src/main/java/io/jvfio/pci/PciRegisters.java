package io.jvfio.pci;

/**
 * Offsets and bits of the PCI configuration space: the type-0 header here, each capability's
 * registers in a nested class (offsets relative to the capability's start). Mirrors the meaning of
 * Linux's {@code include/uapi/linux/pci_regs.h}.
 */
public final class PciRegisters {
    private PciRegisters() {}

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    /** 24-bit class code: programming interface at 0x09, subclass at 0x0A, base class at 0x0B. */
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0C;
    public static final int LATENCY_TIMER = 0x0D;
    public static final int HEADER_TYPE = 0x0E;
    public static final int BIST = 0x0F;
    public static final int BASE_ADDRESS_0 = 0x10;
    public static final int BAR_COUNT = 6;
    public static final int BAR_STRIDE = 4;
    public static final int CARDBUS_CIS = 0x28;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2C;
    public static final int SUBSYSTEM_ID = 0x2E;
    public static final int ROM_ADDRESS = 0x30;
    public static final int CAPABILITY_LIST = 0x34;
    public static final int INTERRUPT_LINE = 0x3C;
    public static final int INTERRUPT_PIN = 0x3D;
    public static final int MIN_GNT = 0x3E;
    public static final int MAX_LAT = 0x3F;

    /** First byte after the type-0 header: where standard capabilities may start. */
    public static final int HEADER_END = 0x40;
    /** Standard capabilities must live below this offset. */
    public static final int STANDARD_SPACE_END = 0x100;
    /** First extended capability header (PCI Express configuration space only). */
    public static final int EXTENDED_CAPABILITIES_START = 0x100;

    public static final int VENDOR_ID_INVALID = 0xFFFF;
    public static final int HEADER_TYPE_NORMAL = 0x00;
    public static final int HEADER_TYPE_MULTIFUNCTION = 0x80;
    public static final int INTERRUPT_PIN_MAX = 4;

    /** Offset of the register for BAR {@code index}. */
    public static int barOffset(int index) {
        return BASE_ADDRESS_0 + index * BAR_STRIDE;
    }

    /** Command register bits. */
    public static final class Command {
        private Command() {}
        public static final int IO_SPACE = 1 << 0;
        public static final int MEMORY_SPACE = 1 << 1;
        public static final int BUS_MASTER = 1 << 2;
        public static final int SPECIAL_CYCLES = 1 << 3;
        public static final int MEMORY_WRITE_INVALIDATE = 1 << 4;
        public static final int VGA_PALETTE_SNOOP = 1 << 5;
        public static final int PARITY_ERROR_RESPONSE = 1 << 6;
        public static final int IDSEL_STEPPING = 1 << 7;
        public static final int SERR_ENABLE = 1 << 8;
        public static final int FAST_BACK_TO_BACK = 1 << 9;
        public static final int INTX_DISABLE = 1 << 10;
    }

    /** Status register bits. */
    public static final class Status {
        private Status() {}
        public static final int INTERRUPT = 1 << 3;
        public static final int CAPABILITY_LIST = 1 << 4;
        public static final int CAPABLE_66MHZ = 1 << 5;
        public static final int FAST_BACK_TO_BACK = 1 << 7;
        public static final int MASTER_DATA_PARITY_ERROR = 1 << 8;
        public static final int DEVSEL_TIMING_MASK = 0x3 << 9;
        public static final int SIGNALED_TARGET_ABORT = 1 << 11;
        public static final int RECEIVED_TARGET_ABORT = 1 << 12;
        public static final int RECEIVED_MASTER_ABORT = 1 << 13;
        public static final int SIGNALED_SYSTEM_ERROR = 1 << 14;
        public static final int DETECTED_PARITY_ERROR = 1 << 15;
        /** The error bits software clears by writing 1. */
        public static final int ERROR_BITS = MASTER_DATA_PARITY_ERROR | SIGNALED_TARGET_ABORT
                | RECEIVED_TARGET_ABORT | RECEIVED_MASTER_ABORT | SIGNALED_SYSTEM_ERROR | DETECTED_PARITY_ERROR;
    }

    /** Base address register bits. */
    public static final class BaseAddress {
        private BaseAddress() {}
        public static final int SPACE_IO = 0x1;
        public static final int MEMORY_TYPE_MASK = 0x6;
        public static final int MEMORY_TYPE_32 = 0x0;
        public static final int MEMORY_TYPE_64 = 0x4;
        public static final int MEMORY_PREFETCHABLE = 0x8;
        public static final int MEMORY_FLAGS_MASK = 0xF;
        public static final int IO_FLAGS_MASK = 0x3;
        public static final long MEMORY_ADDRESS_MASK = 0xFFFF_FFF0L;
        public static final long IO_ADDRESS_MASK = 0xFFFF_FFFCL;
    }

    /** Expansion ROM base address register bits. */
    public static final class Rom {
        private Rom() {}
        public static final int ENABLE = 0x1;
        public static final long ADDRESS_MASK = 0xFFFF_F800L;
        public static final int MIN_SIZE = 2048;
    }

    /** Header shared by all standard capabilities. */
    public static final class CapabilityHeader {
        private CapabilityHeader() {}
        public static final int ID = 0;
        public static final int NEXT = 1;
        public static final int SIZE = 2;
        /** Capabilities are dword aligned; the low two bits of every pointer are reserved. */
        public static final int ALIGNMENT = 4;
    }

    /** Power Management capability. */
    public static final class PowerManagement {
        private PowerManagement() {}
        public static final int PMC = 2;
        public static final int PMCSR = 4;
        public static final int PMCSR_BRIDGE_EXTENSIONS = 6;
        public static final int DATA = 7;
        public static final int SIZE = 8;
        public static final int PMC_VERSION_MASK = 0x7;
        /** Version 3 = PCI Power Management Interface Specification 1.2. */
        public static final int PMC_VERSION_1_2 = 3;
        public static final int PMC_D1_SUPPORT = 1 << 9;
        public static final int PMC_D2_SUPPORT = 1 << 10;
        public static final int PMCSR_POWER_STATE_MASK = 0x3;
        public static final int PMCSR_NO_SOFT_RESET = 1 << 3;
        public static final int PMCSR_PME_ENABLE = 1 << 8;
        public static final int PMCSR_PME_STATUS = 1 << 15;
        public static final int STATE_D0 = 0;
        public static final int STATE_D1 = 1;
        public static final int STATE_D2 = 2;
        public static final int STATE_D3_HOT = 3;
    }

    /** MSI capability. Data, mask and pending move by 4 bytes when the address is 64-bit. */
    public static final class Msi {
        private Msi() {}
        public static final int FLAGS = 2;
        public static final int ADDRESS_LO = 4;
        public static final int ADDRESS_HI = 8;
        public static final int DATA_32 = 8;
        public static final int DATA_64 = 12;
        public static final int MASK_32 = 12;
        public static final int MASK_64 = 16;
        public static final int PENDING_32 = 16;
        public static final int PENDING_64 = 20;
        public static final int SIZE_32 = 10;
        public static final int SIZE_32_MASKED = 20;
        public static final int SIZE_64 = 14;
        public static final int SIZE_64_MASKED = 24;
        public static final int DATA_SIZE = 2;
        public static final int FLAGS_ENABLE = 1 << 0;
        public static final int FLAGS_MULTIPLE_CAPABLE_SHIFT = 1;
        public static final int FLAGS_MULTIPLE_CAPABLE_MASK = 0x7 << 1;
        public static final int FLAGS_MULTIPLE_ENABLE_SHIFT = 4;
        public static final int FLAGS_MULTIPLE_ENABLE_MASK = 0x7 << 4;
        public static final int FLAGS_64BIT = 1 << 7;
        public static final int FLAGS_PER_VECTOR_MASK = 1 << 8;
        /** The two low address bits are hardwired to 0: messages are dword aligned. */
        public static final int ADDRESS_LO_RESERVED = 0x3;
        public static final int MAX_VECTORS = 32;
    }

    /** MSI-X capability and the layout of its table and pending bit array. */
    public static final class Msix {
        private Msix() {}
        public static final int FLAGS = 2;
        public static final int TABLE = 4;
        public static final int PBA = 8;
        public static final int SIZE = 12;
        public static final int FLAGS_TABLE_SIZE_MASK = 0x7FF;
        public static final int FLAGS_FUNCTION_MASK = 1 << 14;
        public static final int FLAGS_ENABLE = 1 << 15;
        public static final int BIR_MASK = 0x7;
        public static final int OFFSET_MASK = ~BIR_MASK;
        public static final int MAX_VECTORS = 2048;
        public static final int ENTRY_SIZE = 16;
        public static final int ENTRY_ADDRESS_LO = 0;
        public static final int ENTRY_ADDRESS_HI = 4;
        public static final int ENTRY_DATA = 8;
        public static final int ENTRY_VECTOR_CONTROL = 12;
        public static final int ENTRY_VECTOR_CONTROL_MASKED = 1 << 0;
        /** Pending bits are grouped in qwords. */
        public static final int PBA_ENTRY_SIZE = 8;
    }

    /** Vendor-specific capability. */
    public static final class VendorSpecific {
        private VendorSpecific() {}
        public static final int LENGTH = 2;
        public static final int DATA = 3;
        public static final int MAX_SIZE = 0xFF;
    }

    /** PCI Express capability, version 2. */
    public static final class PciExpress {
        private PciExpress() {}
        public static final int FLAGS = 0x02;
        public static final int DEVCAP = 0x04;
        public static final int DEVCTL = 0x08;
        public static final int DEVSTA = 0x0A;
        public static final int LNKCAP = 0x0C;
        public static final int LNKCTL = 0x10;
        public static final int LNKSTA = 0x12;
        public static final int SLTCAP = 0x14;
        public static final int SLTCTL = 0x18;
        public static final int SLTSTA = 0x1A;
        public static final int RTCTL = 0x1C;
        public static final int RTCAP = 0x1E;
        public static final int RTSTA = 0x20;
        public static final int DEVCAP2 = 0x24;
        public static final int DEVCTL2 = 0x28;
        public static final int DEVSTA2 = 0x2A;
        public static final int LNKCAP2 = 0x2C;
        public static final int LNKCTL2 = 0x30;
        public static final int LNKSTA2 = 0x32;
        public static final int SLTCAP2 = 0x34;
        public static final int SLTCTL2 = 0x38;
        public static final int SLTSTA2 = 0x3A;
        public static final int SIZE_V2 = 0x3C;

        public static final int FLAGS_VERSION_MASK = 0xF;
        public static final int FLAGS_VERSION_2 = 2;
        public static final int FLAGS_TYPE_SHIFT = 4;
        public static final int FLAGS_TYPE_MASK = 0xF << 4;
        public static final int FLAGS_SLOT = 1 << 8;
        /** The interrupt message number (MSI/MSI-X vector) of the capability's own events. */
        public static final int FLAGS_IRQ_SHIFT = 9;
        public static final int FLAGS_IRQ_MASK = 0x1F << 9;

        /** Device/port types, the values of {@link #FLAGS_TYPE_MASK} ({@link PcieDeviceType} names those a model can be). */
        public static final int TYPE_ENDPOINT = 0x0;
        public static final int TYPE_LEGACY_ENDPOINT = 0x1;
        public static final int TYPE_ROOT_PORT = 0x4;
        public static final int TYPE_UPSTREAM_PORT = 0x5;
        public static final int TYPE_DOWNSTREAM_PORT = 0x6;
        public static final int TYPE_PCIE_TO_PCI_BRIDGE = 0x7;
        public static final int TYPE_PCI_TO_PCIE_BRIDGE = 0x8;
        public static final int TYPE_ROOT_COMPLEX_INTEGRATED_ENDPOINT = 0x9;
        public static final int TYPE_ROOT_COMPLEX_EVENT_COLLECTOR = 0xA;

        public static final int DEVCAP_MAX_PAYLOAD_MASK = 0x7;
        public static final int DEVCAP_PHANTOM_SHIFT = 3;
        public static final int DEVCAP_PHANTOM_MASK = 0x3 << 3;
        public static final int DEVCAP_EXTENDED_TAG = 1 << 5;
        public static final int DEVCAP_L0S_LATENCY_SHIFT = 6;
        public static final int DEVCAP_L1_LATENCY_SHIFT = 9;
        public static final int DEVCAP_ATTENTION_BUTTON = 1 << 12;
        public static final int DEVCAP_ATTENTION_INDICATOR = 1 << 13;
        public static final int DEVCAP_POWER_INDICATOR = 1 << 14;
        public static final int DEVCAP_ROLE_BASED_ERROR = 1 << 15;
        public static final int DEVCAP_SLOT_POWER_VALUE_SHIFT = 18;
        public static final int DEVCAP_SLOT_POWER_SCALE_SHIFT = 26;
        public static final int DEVCAP_FLR = 1 << 28;

        public static final int DEVCTL_CORRECTABLE_ERROR_REPORTING = 1 << 0;
        public static final int DEVCTL_NON_FATAL_ERROR_REPORTING = 1 << 1;
        public static final int DEVCTL_FATAL_ERROR_REPORTING = 1 << 2;
        public static final int DEVCTL_UNSUPPORTED_REQUEST_REPORTING = 1 << 3;
        public static final int DEVCTL_RELAXED_ORDERING = 1 << 4;
        public static final int DEVCTL_MAX_PAYLOAD_SHIFT = 5;
        public static final int DEVCTL_MAX_PAYLOAD_MASK = 0x7 << 5;
        public static final int DEVCTL_EXTENDED_TAG = 1 << 8;
        public static final int DEVCTL_PHANTOM_FUNCTIONS = 1 << 9;
        public static final int DEVCTL_AUX_POWER_PM = 1 << 10;
        public static final int DEVCTL_NO_SNOOP = 1 << 11;
        public static final int DEVCTL_MAX_READ_REQUEST_SHIFT = 12;
        public static final int DEVCTL_MAX_READ_REQUEST_MASK = 0x7 << 12;
        /** Max read request size 512 bytes, the power-on default. */
        public static final int DEVCTL_MAX_READ_REQUEST_512 = 0x2 << 12;
        public static final int DEVCTL_INITIATE_FLR = 1 << 15;

        public static final int DEVSTA_CORRECTABLE_ERROR = 1 << 0;
        public static final int DEVSTA_NON_FATAL_ERROR = 1 << 1;
        public static final int DEVSTA_FATAL_ERROR = 1 << 2;
        public static final int DEVSTA_UNSUPPORTED_REQUEST = 1 << 3;
        public static final int DEVSTA_ERROR_BITS = DEVSTA_CORRECTABLE_ERROR | DEVSTA_NON_FATAL_ERROR
                | DEVSTA_FATAL_ERROR | DEVSTA_UNSUPPORTED_REQUEST;
        public static final int DEVSTA_AUX_POWER = 1 << 4;
        public static final int DEVSTA_TRANSACTIONS_PENDING = 1 << 5;

        public static final int LINK_SPEED_2_5GT = 1;
        public static final int LINK_WIDTH_SHIFT = 4;
        public static final int LINK_WIDTH_X1 = 1;
        public static final int LNKCAP_SPEED_MASK = 0xF;
        public static final int LNKCAP_WIDTH_MASK = 0x3F << 4;
        /** ASPM support: bit 0 L0s, bit 1 L1. */
        public static final int LNKCAP_ASPM_SHIFT = 10;
        public static final int LNKCAP_L0S_EXIT_LATENCY_SHIFT = 12;
        public static final int LNKCAP_L1_EXIT_LATENCY_SHIFT = 15;
        public static final int LNKCAP_CLOCK_PM = 1 << 18;
        public static final int LNKCAP_SURPRISE_DOWN_REPORTING = 1 << 19;
        public static final int LNKCAP_DLL_ACTIVE_REPORTING = 1 << 20;
        public static final int LNKCAP_BANDWIDTH_NOTIFICATION = 1 << 21;
        public static final int LNKCAP_ASPM_OPTIONALITY = 1 << 22;
        public static final int LNKCAP_PORT_SHIFT = 24;
        public static final int LNKCTL_ASPM_MASK = 0x3;
        public static final int LNKCTL_READ_COMPLETION_BOUNDARY = 1 << 3;
        public static final int LNKCTL_LINK_DISABLE = 1 << 4;
        public static final int LNKCTL_COMMON_CLOCK = 1 << 6;
        public static final int LNKCTL_EXTENDED_SYNCH = 1 << 7;
        public static final int LNKCTL_CLOCK_PM = 1 << 8;
        public static final int LNKCTL_AUTONOMOUS_WIDTH_DISABLE = 1 << 9;
        public static final int LNKCTL_BANDWIDTH_INTERRUPT = 1 << 10;
        public static final int LNKCTL_AUTONOMOUS_BANDWIDTH_INTERRUPT = 1 << 11;
        public static final int LNKSTA_SPEED_MASK = 0xF;
        public static final int LNKSTA_WIDTH_MASK = 0x3F << 4;
        public static final int LNKSTA_TRAINING_ERROR = 1 << 10;
        public static final int LNKSTA_TRAINING = 1 << 11;
        public static final int LNKSTA_SLOT_CLOCK = 1 << 12;
        public static final int LNKSTA_DLL_ACTIVE = 1 << 13;
        public static final int LNKSTA_BANDWIDTH_MANAGEMENT = 1 << 14;
        public static final int LNKSTA_AUTONOMOUS_BANDWIDTH = 1 << 15;

        public static final int DEVCAP2_TIMEOUT_RANGES_MASK = 0xF;
        public static final int DEVCAP2_COMPLETION_TIMEOUT_DISABLE = 1 << 4;
        public static final int DEVCAP2_NO_RO_PR_PR_PASSING = 1 << 10;
        public static final int DEVCAP2_LTR = 1 << 11;
        public static final int DEVCTL2_TIMEOUT_VALUE_MASK = 0xF;
        public static final int DEVCTL2_COMPLETION_TIMEOUT_DISABLE = 1 << 4;
        public static final int DEVCTL2_LTR = 1 << 10;
        /** Supported link speeds vector: bit 1 = 2.5 GT/s, bit 2 = 5 GT/s, ... */
        public static final int LNKCAP2_SPEEDS_SHIFT = 1;
        public static final int LNKCAP2_SPEEDS_MASK = 0x7F << 1;
        public static final int LNKCAP2_SPEED_2_5GT = 1 << 1;
        public static final int LNKCAP2_CROSSLINK = 1 << 8;
        public static final int LNKCAP2_RETIMER_PRESENCE = 1 << 23;
        public static final int LNKCAP2_TWO_RETIMERS_PRESENCE = 1 << 24;
        public static final int LNKCAP2_DRS = 1 << 31;
        public static final int LNKCTL2_TARGET_SPEED_MASK = 0xF;
        public static final int LNKCTL2_ENTER_COMPLIANCE = 1 << 4;
        public static final int LNKCTL2_HW_AUTONOMOUS_SPEED_DISABLE = 1 << 5;
    }

    /** Header shared by all extended capabilities: id (16 bits), version (4), next (12). */
    public static final class ExtendedCapabilityHeader {
        private ExtendedCapabilityHeader() {}
        public static final int SIZE = 4;
        public static final int ID_MASK = 0xFFFF;
        public static final int VERSION_SHIFT = 16;
        public static final int VERSION_MASK = 0xF;
        public static final int NEXT_SHIFT = 20;
        public static final int NEXT_MASK = 0xFFF;
    }

    /** Device Serial Number extended capability. */
    public static final class DeviceSerialNumber {
        private DeviceSerialNumber() {}
        public static final int VERSION = 1;
        public static final int SERIAL_LO = 4;
        public static final int SERIAL_HI = 8;
        public static final int SIZE = 12;
    }
}
