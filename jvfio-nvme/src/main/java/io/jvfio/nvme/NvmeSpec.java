package io.jvfio.nvme;

/**
 * The numbers of the NVM Express Base and NVM Command Set specifications (2.0) this driver uses:
 * BAR 0's registers, queue entry layouts, opcodes and Identify offsets. Written from the
 * specification, not from any controller.
 */
final class NvmeSpec {
    // ---------------------------------------------------------------- controller registers (BAR 0), §3.1
    static final int BAR = 0;
    static final long REG_CAP = 0x00, REG_VS = 0x08, REG_CC = 0x14, REG_CSTS = 0x1c, REG_AQA = 0x24, REG_ASQ = 0x28,
            REG_ACQ = 0x30, DOORBELLS = 0x1000;

    static final int CAP_MQES_MASK = 0xffff;
    static final int CAP_TO_SHIFT = 24, CAP_DSTRD_SHIFT = 32, CAP_CSS_SHIFT = 37, CAP_MPSMIN_SHIFT = 48;
    static final int CAP_CSS_NVM = 1;
    /** CAP.TO counts 500 ms units. */
    static final long CAP_TO_UNIT_MILLIS = 500;

    static final int CC_EN = 1, CC_CSS_NVM = 0 << 4, CC_MPS_SHIFT = 7, CC_SHN_NORMAL = 1 << 14, CC_SHN_MASK = 3 << 14;
    static final int CC_IOSQES_SHIFT = 16, CC_IOCQES_SHIFT = 20;
    static final int CSTS_RDY = 1, CSTS_CFS = 2, CSTS_SHST_MASK = 3 << 2, CSTS_SHST_COMPLETE = 2 << 2;

    // ---------------------------------------------------------------- queues, §4
    static final int SQE_SIZE = 64, CQE_SIZE = 16, SQES = 6, CQES = 4;
    static final int SQE_OPCODE = 0, SQE_FLAGS = 1, SQE_CID = 2, SQE_NSID = 4, SQE_PRP1 = 24, SQE_PRP2 = 32, SQE_CDW10 = 40,
            SQE_CDW11 = 44, SQE_CDW12 = 48, SQE_CDW13 = 52, SQE_CDW14 = 56, SQE_CDW15 = 60;
    static final int CQE_DW0 = 0, CQE_SQHD = 8, CQE_CID = 12, CQE_STATUS = 14;
    /** The memory page size the driver sets in CC.MPS (0: 4 KiB); PRPs are built on it. */
    static final int PAGE_SHIFT = 12, PAGE_SIZE = 1 << PAGE_SHIFT;
    static final int PRP_ENTRIES_PER_PAGE = PAGE_SIZE / Long.BYTES;
    /** CDW0's flags byte: PSDT in bits 7:6, 01b = SGLs for the data (MPTR a contiguous metadata buffer). */
    static final int FLAGS_PSDT_SGL = 1 << 6;
    /** SGL descriptors (§4.3.2): 16 bytes, the type in the identifier byte's high nibble (subtype 0: an address). */
    static final int SGL_DESCRIPTOR_SIZE = 16, SGL_DATA_BLOCK = 0x0, SGL_LAST_SEGMENT = 0x3, SGL_TYPE_SHIFT = 4;
    static final int SGL_DESCRIPTORS_PER_PAGE = PAGE_SIZE / SGL_DESCRIPTOR_SIZE;

    // ---------------------------------------------------------------- admin commands, §5
    static final int ADMIN_DELETE_SQ = 0x00, ADMIN_CREATE_SQ = 0x01, ADMIN_DELETE_CQ = 0x04, ADMIN_CREATE_CQ = 0x05,
            ADMIN_GET_LOG_PAGE = 0x02, ADMIN_IDENTIFY = 0x06, ADMIN_SET_FEATURES = 0x09, ADMIN_GET_FEATURES = 0x0a,
            ADMIN_DOORBELL_BUFFER_CONFIG = 0x7c;
    static final int CNS_NAMESPACE = 0x00, CNS_CONTROLLER = 0x01, CNS_ACTIVE_NAMESPACES = 0x02;
    static final int FEATURE_NUMBER_OF_QUEUES = 0x07;
    static final int QUEUE_PHYSICALLY_CONTIGUOUS = 1, CQ_INTERRUPTS_ENABLED = 2;
    /** Get Log Page (§5.16): the SMART / Health Information page, 512 bytes, controller-wide with NSID FFFFFFFFh. */
    static final int LOG_SMART = 0x02, SMART_LOG_BYTES = 512, BROADCAST_NSID = 0xffff_ffff;
    static final int SMART_CRITICAL_WARNING = 0, SMART_TEMPERATURE = 1, SMART_AVAILABLE_SPARE = 3, SMART_SPARE_THRESHOLD = 4,
            SMART_PERCENTAGE_USED = 5, SMART_ENDURANCE_GROUP_WARNING = 6, SMART_DATA_UNITS_READ = 32,
            SMART_DATA_UNITS_WRITTEN = 48, SMART_HOST_READS = 64, SMART_HOST_WRITES = 80, SMART_BUSY_TIME = 96,
            SMART_POWER_CYCLES = 112, SMART_POWER_ON_HOURS = 128, SMART_UNSAFE_SHUTDOWNS = 144, SMART_MEDIA_ERRORS = 160,
            SMART_ERROR_LOG_ENTRIES = 176, SMART_WARNING_TEMPERATURE_TIME = 192, SMART_CRITICAL_TEMPERATURE_TIME = 196,
            SMART_TEMPERATURE_SENSORS = 200, SMART_SENSOR_COUNT = 8;

    // ---------------------------------------------------------------- NVM commands (NVM Command Set §3)
    static final int IO_FLUSH = 0x00, IO_WRITE = 0x01, IO_READ = 0x02, IO_WRITE_ZEROES = 0x08, IO_DATASET_MANAGEMENT = 0x09;
    static final int DSM_ATTRIBUTE_DEALLOCATE = 1 << 2, DSM_RANGE_SIZE = 16, DSM_MAX_RANGES = 256;

    // ---------------------------------------------------------------- Identify data, §5.17.2
    static final int ID_CTRL_VID = 0, ID_CTRL_SSVID = 2, ID_CTRL_SN = 4, ID_CTRL_MN = 24, ID_CTRL_FR = 64, ID_CTRL_MDTS = 77,
            ID_CTRL_CNTLID = 78, ID_CTRL_VER = 80, ID_CTRL_OACS = 256, ID_CTRL_SQES = 512, ID_CTRL_CQES = 513,
            ID_CTRL_NN = 516, ID_CTRL_ONCS = 520, ID_CTRL_VWC = 525, ID_CTRL_SGLS = 536, ID_CTRL_SUBNQN = 768;
    static final int SN_BYTES = 20, MN_BYTES = 40, FR_BYTES = 8, SUBNQN_BYTES = 256;
    static final int ONCS_DATASET_MANAGEMENT = 1 << 2, ONCS_WRITE_ZEROES = 1 << 3;
    /** OACS bit 8: Doorbell Buffer Config (shadow doorbells and EventIdx). */
    static final int OACS_DOORBELL_BUFFER_CONFIG = 1 << 8;
    /** SGLS bits 1:0: 00b no SGLs for NVM commands, 01b SGLs, 10b SGLs with dword alignment and granularity. */
    static final int SGLS_SUPPORT_MASK = 0x3, SGLS_DWORD_ALIGNED = 0x2;
    static final int ID_NS_NSZE = 0, ID_NS_NCAP = 8, ID_NS_NUSE = 16, ID_NS_NLBAF = 25, ID_NS_FLBAS = 26, ID_NS_LBAF0 = 128;
    static final int ACTIVE_NAMESPACE_LIST_ENTRIES = 1024;
    /** Identify's CNS 02h arrived with NVMe 1.1. */
    static final int VERSION_1_1 = 0x10100;

    private NvmeSpec() {}
}
