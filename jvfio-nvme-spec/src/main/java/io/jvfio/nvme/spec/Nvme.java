package io.jvfio.nvme.spec;

/**
 * The NVM Express specification's numbers in one place, for the controller (jvfio-devices) and
 * the driver (jvfio-nvme) alike: controller registers (BAR 0), queue entry layouts, opcodes,
 * status codes, features, log pages and Identify offsets. Written from the specification (NVM
 * Express Base 1.4; sections are its), never from either side's choices: what a controller
 * offers or a driver picks (its memory page size, which events it enables) lives with it.
 * Bit ranges are {@code hi:lo}; a field's value and its shift are separate constants.
 */
public final class Nvme {
    private Nvme() {}

    // ------------------------------------------------------------------ PCI header (§2.1)
    /** The controller's registers are in BAR 0 (MLBAR / MUBAR, a 64-bit memory BAR). */
    public static final int BAR = 0;

    // ------------------------------------------------------------------ controller registers (§3.1)
    public static final int REG_CAP = 0x00, REG_VS = 0x08, REG_INTMS = 0x0C, REG_INTMC = 0x10, REG_CC = 0x14,
            REG_CSTS = 0x1C, REG_NSSR = 0x20, REG_AQA = 0x24, REG_ASQ = 0x28, REG_ACQ = 0x30;
    /** Doorbells: SQ y tail at 0x1000 + 2y * 4, CQ y head at 0x1000 + (2y + 1) * 4 (DSTRD 0). */
    public static final int DOORBELLS = 0x1000, DOORBELL_STRIDE = 4;

    public static final int CAP_MQES_MASK = 0xffff;
    public static final int CAP_CQR_SHIFT = 16, CAP_TO_SHIFT = 24, CAP_DSTRD_SHIFT = 32, CAP_CSS_SHIFT = 37,
            CAP_MPSMIN_SHIFT = 48, CAP_MPSMAX_SHIFT = 52;
    public static final int CAP_CSS_NVM = 1;
    /** CAP.NSSRS (bit 36): NVM Subsystem Reset is supported (the NSSR register). */
    public static final int CAP_NSSRS_SHIFT = 36;
    /** NSSR: writing "NVMe" starts an NVM Subsystem Reset. */
    public static final int NSSR_RESET = 0x4E564D65;
    /** CAP.TO counts 500 ms units. */
    public static final int CAP_TO_UNIT_MILLIS = 500;
    /**
     * CAP.MPSMIN and MPSMAX (4-bit fields) and CC.MPS give a memory page of 2^(12 + n) bytes: 4 KiB
     * is the smallest there is.
     */
    public static final int CAP_MPS_MASK = 0xf, MPS_BASE_SHIFT = 12;

    /** VS: major 31:16, minor 15:8, tertiary 7:0 (Identify's VER the same). Identify CNS 02h arrived with 1.1. */
    public static final int VERSION_1_1 = 0x0001_0100, VERSION_1_4 = 0x0001_0400;

    public static final int CC_EN = 1;
    public static final int CC_CSS_SHIFT = 4, CC_CSS_MASK = 0x7, CC_MPS_SHIFT = 7, CC_MPS_MASK = 0xf,
            CC_AMS_SHIFT = 11, CC_AMS_MASK = 0x7, CC_SHN_SHIFT = 14, CC_SHN_MASK = 0x3,
            CC_IOSQES_SHIFT = 16, CC_IOCQES_SHIFT = 20, CC_ES_MASK = 0xf;
    public static final int CC_CSS_NVM = 0;
    /** CC.SHN: no notification, normal shutdown, abrupt shutdown. */
    public static final int SHN_NONE = 0, SHN_NORMAL = 1, SHN_ABRUPT = 2;

    public static final int CSTS_RDY = 1, CSTS_CFS = 1 << 1;
    public static final int CSTS_SHST_SHIFT = 2, CSTS_SHST_MASK = 0x3 << CSTS_SHST_SHIFT;
    /** CSTS.NSSRO: an NVM Subsystem Reset occurred (write 1 to clear). */
    public static final int CSTS_NSSRO = 1 << 4;
    public static final int SHST_NORMAL = 0, SHST_IN_PROGRESS = 1, SHST_COMPLETE = 2;

    public static final int AQA_SIZE_MASK = 0xfff, AQA_ACQS_SHIFT = 16;

    // ------------------------------------------------------------------ queue entries (§4.2, §4.6)
    public static final int SQE_SIZE = 64, CQE_SIZE = 16;
    /** log2 of the entry sizes, as CC.IOSQES / IOCQES and Identify SQES / CQES give them. */
    public static final int SQES = 6, CQES = 4;

    public static final int SQE_OPCODE = 0, SQE_FLAGS = 1, SQE_CID = 2, SQE_NSID = 4, SQE_MPTR = 16,
            SQE_PRP1 = 24, SQE_PRP2 = 32, SQE_CDW10 = 40, SQE_CDW11 = 44, SQE_CDW12 = 48, SQE_CDW13 = 52,
            SQE_CDW14 = 56, SQE_CDW15 = 60;
    /** Flags byte: FUSE 1:0, PSDT 7:6 (00 = PRPs). */
    public static final int FLAGS_FUSE_MASK = 0x3, FLAGS_PSDT_SHIFT = 6;
    /** PSDT: PRPs; an SGL with MPTR a contiguous buffer; an SGL with MPTR an SGL segment (needs SGLS bit 19). */
    public static final int PSDT_PRP = 0, PSDT_SGL = 1, PSDT_SGL_METADATA_SEGMENT = 2;
    /** The flags byte of a command whose data an SGL describes (PSDT 01b, no fusing). */
    public static final int FLAGS_PSDT_SGL = PSDT_SGL << FLAGS_PSDT_SHIFT;

    public static final int CQE_DW0 = 0, CQE_DW1 = 4, CQE_SQHD = 8, CQE_SQID = 10, CQE_CID = 12, CQE_STATUS = 14;

    // ------------------------------------------------------------------ SGL descriptors (§4.4)
    /** A descriptor: address 0-7, length 8-11 (bytes), SGL identifier at 15 (type 7:4, subtype 3:0). SGL1 sits at SQE_PRP1. */
    public static final int SGL_DESCRIPTOR_SIZE = 16, SGL_ADDRESS = 0, SGL_LENGTH = 8, SGL_IDENTIFIER = 15,
            SGL_TYPE_SHIFT = 4;
    public static final int SGL_DATA_BLOCK = 0x0, SGL_BIT_BUCKET = 0x1, SGL_SEGMENT = 0x2, SGL_LAST_SEGMENT = 0x3;
    /** Subtype 0: the address field is an address (offsets are for fabrics). */
    public static final int SGL_SUBTYPE_ADDRESS = 0x0;

    // ------------------------------------------------------------------ opcodes (§5, §6)
    public static final int ADMIN_DELETE_SQ = 0x00, ADMIN_CREATE_SQ = 0x01, ADMIN_GET_LOG_PAGE = 0x02,
            ADMIN_DELETE_CQ = 0x04, ADMIN_CREATE_CQ = 0x05, ADMIN_IDENTIFY = 0x06, ADMIN_ABORT = 0x08,
            ADMIN_SET_FEATURES = 0x09, ADMIN_GET_FEATURES = 0x0A, ADMIN_ASYNC_EVENT_REQUEST = 0x0C;
    public static final int ADMIN_DOORBELL_BUFFER_CONFIG = 0x7C;
    /** Create I/O Completion / Submission Queue CDW11: PC (physically contiguous) bit 0; for a CQ, IEN bit 1. */
    public static final int QUEUE_PHYSICALLY_CONTIGUOUS = 1, CQ_INTERRUPTS_ENABLED = 1 << 1;
    /** Identify Controller OACS bit 8: Doorbell Buffer Config (shadow doorbells) is supported. */
    public static final int OACS_DOORBELL_BUFFER_CONFIG = 1 << 8;

    public static final int IO_FLUSH = 0x00, IO_WRITE = 0x01, IO_READ = 0x02, IO_WRITE_ZEROES = 0x08,
            IO_DATASET_MANAGEMENT = 0x09;
    /** Read/Write CDW12: NLB 15:0 (0-based), FUA bit 30. Write Zeroes: DEAC (deallocate) bit 25. */
    public static final int RW_NLB_MASK = 0xffff, RW_FUA = 1 << 30, WZ_DEAC = 1 << 25;
    /** Dataset Management: CDW10 NR 7:0 (0-based ranges), CDW11 AD (deallocate) bit 2; 16-byte ranges. */
    public static final int DSM_NR_MASK = 0xff, DSM_DEALLOCATE = 1 << 2, DSM_RANGE_SIZE = 16, DSM_MAX_RANGES = 256;
    /** A range: context attributes, length in logical blocks (1-based), starting LBA. */
    public static final int DSM_RANGE_LENGTH = 4, DSM_RANGE_SLBA = 8;

    // ------------------------------------------------------------------ status (§4.6.1.2): SCT << 8 | SC
    public static final int SC_SUCCESS = 0x000, SC_INVALID_OPCODE = 0x001, SC_INVALID_FIELD = 0x002,
            SC_DATA_TRANSFER_ERROR = 0x004, SC_INTERNAL = 0x006, SC_ABORT_REQUESTED = 0x007, SC_ABORTED_SQ_DELETION = 0x008,
            SC_INVALID_NAMESPACE = 0x00B, SC_COMMAND_SEQUENCE_ERROR = 0x00C, SC_INVALID_SGL_SEGMENT_DESCRIPTOR = 0x00D,
            SC_INVALID_SGL_DESCRIPTOR_COUNT = 0x00E, SC_DATA_SGL_LENGTH_INVALID = 0x00F,
            SC_SGL_DESCRIPTOR_TYPE_INVALID = 0x011, SC_PRP_OFFSET_INVALID = 0x013, SC_LBA_OUT_OF_RANGE = 0x080;
    public static final int SC_CQ_INVALID = 0x100, SC_INVALID_QUEUE_ID = 0x101, SC_INVALID_QUEUE_SIZE = 0x102,
            SC_AER_LIMIT_EXCEEDED = 0x105, SC_INVALID_INTERRUPT_VECTOR = 0x108, SC_INVALID_LOG_PAGE = 0x109,
            SC_INVALID_QUEUE_DELETION = 0x10C, SC_FEATURE_NOT_SAVEABLE = 0x10D;
    public static final int SC_WRITE_FAULT = 0x280, SC_UNRECOVERED_READ_ERROR = 0x281;
    /** Do Not Retry, in the status word after the phase bit is shifted in. */
    public static final int STATUS_DNR = 1 << 14;

    // ------------------------------------------------------------------ Identify (§5.15)
    public static final int IDENTIFY_SIZE = 4096;
    public static final int CNS_NAMESPACE = 0x00, CNS_CONTROLLER = 0x01, CNS_ACTIVE_NAMESPACES = 0x02,
            CNS_NAMESPACE_DESCRIPTORS = 0x03;
    /** CNS 02h answers with up to 1024 namespace ids, in increasing order, zero-filled after the last. */
    public static final int ACTIVE_NAMESPACE_LIST_ENTRIES = 1024;

    public static final int ID_CTRL_VID = 0, ID_CTRL_SSVID = 2, ID_CTRL_SN = 4, ID_CTRL_MN = 24, ID_CTRL_FR = 64,
            ID_CTRL_RAB = 72, ID_CTRL_IEEE = 73, ID_CTRL_MDTS = 77, ID_CTRL_CNTLID = 78, ID_CTRL_VER = 80,
            ID_CTRL_OAES = 92, ID_CTRL_CNTRLTYPE = 111, ID_CTRL_OACS = 256, ID_CTRL_ACL = 258, ID_CTRL_AERL = 259,
            ID_CTRL_FRMW = 260, ID_CTRL_LPA = 261, ID_CTRL_ELPE = 262, ID_CTRL_NPSS = 263, ID_CTRL_WCTEMP = 266,
            ID_CTRL_CCTEMP = 268, ID_CTRL_SQES = 512, ID_CTRL_CQES = 513, ID_CTRL_MAXCMD = 514, ID_CTRL_NN = 516,
            ID_CTRL_ONCS = 520, ID_CTRL_VWC = 525, ID_CTRL_SGLS = 536, ID_CTRL_SUBNQN = 768, ID_CTRL_PSD0 = 2048;
    public static final int SN_BYTES = 20, MN_BYTES = 40, FR_BYTES = 8, SUBNQN_BYTES = 256;
    public static final int CNTRLTYPE_IO = 1;
    /** ONCS bit 2: Dataset Management; bit 3: Write Zeroes. */
    public static final int ONCS_DATASET_MANAGEMENT = 1 << 2, ONCS_WRITE_ZEROES = 1 << 3;
    /** VWC: present (bit 0) and Flush with NSID FFFFFFFFh supported (bits 2:1 = 11b). */
    public static final int VWC_PRESENT_WITH_BROADCAST_FLUSH = 0x7;
    /**
     * SGLS 1:0: 00b no SGLs for the NVM command set; 01b ({@code SGLS_SUPPORTED}) SGLs, no alignment
     * or granularity asked of data blocks; 10b SGLs with dword alignment and granularity. Bit 16: bit buckets.
     */
    public static final int SGLS_SUPPORT_MASK = 0x3, SGLS_SUPPORTED = 0x1, SGLS_DWORD_ALIGNED = 0x2,
            SGLS_BIT_BUCKET = 1 << 16;
    /** OAES bit 8: Namespace Attribute Notices (Changed Namespace List) are reported. */
    public static final int OAES_NAMESPACE_ATTRIBUTE = 1 << 8;
    /** LPA bit 1: the Commands Supported and Effects log; bit 2: extended data for Get Log Page (NUMDU, offsets). */
    public static final int LPA_COMMAND_EFFECTS = 1 << 1, LPA_EXTENDED = 1 << 2;

    public static final int ID_NS_NSZE = 0, ID_NS_NCAP = 8, ID_NS_NUSE = 16, ID_NS_NLBAF = 25, ID_NS_FLBAS = 26,
            ID_NS_LBAF0 = 128;
    /** An LBA format entry: LBADS (log2 of the data size) in bits 23:16. */
    public static final int LBAF_LBADS_SHIFT = 16;

    /** Namespace identification descriptor (CNS 03): NIDT, NIDL, 2 reserved, ID. */
    public static final int NIDT_UUID = 3, NID_UUID_LENGTH = 16;
    public static final int BROADCAST_NSID = 0xffff_ffff;

    // ------------------------------------------------------------------ features (§5.21.1)
    public static final int FEATURE_ARBITRATION = 0x01, FEATURE_POWER_MANAGEMENT = 0x02,
            FEATURE_TEMPERATURE_THRESHOLD = 0x04, FEATURE_ERROR_RECOVERY = 0x05, FEATURE_VOLATILE_WRITE_CACHE = 0x06,
            FEATURE_NUMBER_OF_QUEUES = 0x07, FEATURE_INTERRUPT_COALESCING = 0x08,
            FEATURE_INTERRUPT_VECTOR_CONFIG = 0x09, FEATURE_ASYNC_EVENT_CONFIG = 0x0B;
    /**
     * Asynchronous Event Configuration: bits 7:0 enable the SMART critical warnings of the same
     * bits (the SMART_WARNING_ ones), bit 8 namespace attribute notices. Error events have no bit:
     * always enabled.
     */
    public static final int AEC_SMART_WARNINGS = 0xff, AEC_NAMESPACE_ATTRIBUTE = 1 << 8;
    /** Set Features CDW10 bit 31: save. Get Features CDW10 10:8: select. */
    public static final int FEATURE_SAVE = 1 << 31, FEATURE_SELECT_SHIFT = 8, FEATURE_SELECT_MASK = 0x7;
    public static final int SELECT_CURRENT = 0, SELECT_DEFAULT = 1, SELECT_SAVED = 2, SELECT_CAPABILITIES = 3;
    /** Supported-capabilities answer: the feature is changeable. */
    public static final int FEATURE_CAPABILITY_CHANGEABLE = 1 << 2;

    // ------------------------------------------------------------------ log pages (§5.14.1)
    public static final int LOG_ERROR_INFORMATION = 0x01, LOG_SMART = 0x02, LOG_FIRMWARE_SLOT = 0x03,
            LOG_CHANGED_NAMESPACES = 0x04, LOG_COMMAND_EFFECTS = 0x05;
    /** Get Log Page CDW10 bit 15: Retain Asynchronous Event (reading leaves the event unacknowledged). */
    public static final int LOG_RAE = 1 << 15;
    /** Changed Namespace List: up to 1024 namespace ids; Commands Supported and Effects: 256 admin then 256 I/O dwords. */
    public static final int CHANGED_NAMESPACES_LOG_SIZE = 4096, COMMAND_EFFECTS_LOG_SIZE = 4096, EFFECTS_IO_OFFSET = 1024;
    /** An effects entry: CSUPP (bit 0, supported), LBCC (bit 1, may change logical block content). */
    public static final int EFFECT_CSUPP = 1, EFFECT_LBCC = 1 << 1;
    public static final int ERROR_ENTRY_SIZE = 64, SMART_LOG_SIZE = 512, FIRMWARE_LOG_SIZE = 512;
    /** SMART / Health Information (§5.14.1.2): byte offsets; the 16-byte counters are little-endian. */
    public static final int SMART_CRITICAL_WARNING = 0, SMART_TEMPERATURE = 1, SMART_AVAILABLE_SPARE = 3,
            SMART_SPARE_THRESHOLD = 4, SMART_PERCENTAGE_USED = 5, SMART_ENDURANCE_GROUP_WARNING = 6,
            SMART_DATA_UNITS_READ = 32, SMART_DATA_UNITS_WRITTEN = 48, SMART_HOST_READS = 64, SMART_HOST_WRITES = 80,
            SMART_BUSY_TIME = 96, SMART_POWER_CYCLES = 112, SMART_POWER_ON_HOURS = 128, SMART_UNSAFE_SHUTDOWNS = 144,
            SMART_MEDIA_ERRORS = 160, SMART_ERROR_LOG_ENTRIES = 176, SMART_WARNING_TEMPERATURE_TIME = 192,
            SMART_CRITICAL_TEMPERATURE_TIME = 196, SMART_TEMPERATURE_SENSORS = 200;
    /** Temperature sensors 1-8: a 2-byte kelvin value each from SMART_TEMPERATURE_SENSORS. */
    public static final int SMART_SENSOR_COUNT = 8;
    /** Critical warning bits: spare below threshold, temperature, reliability degraded, read-only, volatile backup failed. */
    public static final int SMART_WARNING_SPARE = 1, SMART_WARNING_TEMPERATURE = 1 << 1, SMART_WARNING_RELIABILITY = 1 << 2,
            SMART_WARNING_READ_ONLY = 1 << 3, SMART_WARNING_VOLATILE_BACKUP = 1 << 4;

    // ------------------------------------------------------------------ asynchronous events (§5.2)
    /** Completion dword 0 of an Asynchronous Event Request: type 2:0, information 15:8, log page 23:16. */
    public static final int AE_INFO_SHIFT = 8, AE_LOG_PAGE_SHIFT = 16;
    public static final int AE_TYPE_ERROR = 0, AE_TYPE_SMART = 1, AE_TYPE_NOTICE = 2, AE_TYPE_IO = 6, AE_TYPE_VENDOR = 7;
    /** SMART / Health status information. */
    public static final int AE_SMART_RELIABILITY = 0x00, AE_SMART_TEMPERATURE = 0x01, AE_SMART_SPARE = 0x02;
    /** Notice information: the Changed Namespace List has news. */
    public static final int AE_NOTICE_NAMESPACE_ATTRIBUTE = 0x00;
    public static final int FW_LOG_AFI = 0, FW_LOG_FRS1 = 8;
}
