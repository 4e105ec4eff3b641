package io.jvfio.devices.virtio;

/**
 * The numbers of the VIRTIO 1.2 specification that jvfio's virtio devices use, in one place:
 * PCI identity and capability layout (§4.1), device status and feature bits (§2.1, §6), split
 * virtqueue layout (§2.7) and the block device (§5.2). Offsets are in bytes, little-endian.
 */
public final class Virtio {
    private Virtio() {}

    // ---- PCI identity (§4.1.2): modern, non-transitional devices are 0x1040 + device type.
    public static final int PCI_VENDOR_ID = 0x1af4;
    public static final int PCI_DEVICE_ID_BASE = 0x1040;
    public static final int PCI_MODERN_REVISION = 1;
    /** Non-transitional devices SHOULD have a subsystem device id of 0x40 or higher. */
    public static final int PCI_SUBSYSTEM_ID_MODERN = 0x40;

    // ---- Device types (§5).
    public static final int DEVICE_TYPE_BLOCK = 2;

    // ---- Virtio PCI vendor capability (struct virtio_pci_cap, §4.1.4): after the 3-byte header.
    public static final int PCI_CAP_CFG_TYPE = 3;      // u8
    public static final int PCI_CAP_BAR = 4;           // u8
    public static final int PCI_CAP_ID = 5;            // u8
    public static final int PCI_CAP_OFFSET = 8;        // le32
    public static final int PCI_CAP_LENGTH = 12;       // le32
    public static final int PCI_CAP_SIZE = 16;
    public static final int PCI_NOTIFY_CAP_MULTIPLIER = 16; // le32, only in the notify capability
    public static final int PCI_NOTIFY_CAP_SIZE = 20;

    public static final int PCI_CAP_COMMON_CFG = 1;
    public static final int PCI_CAP_NOTIFY_CFG = 2;
    public static final int PCI_CAP_ISR_CFG = 3;
    public static final int PCI_CAP_DEVICE_CFG = 4;

    // ---- Common configuration (struct virtio_pci_common_cfg, §4.1.4.3).
    public static final int COMMON_DEVICE_FEATURE_SELECT = 0x00; // le32 RW
    public static final int COMMON_DEVICE_FEATURE = 0x04;        // le32 RO
    public static final int COMMON_DRIVER_FEATURE_SELECT = 0x08; // le32 RW
    public static final int COMMON_DRIVER_FEATURE = 0x0c;        // le32 RW
    public static final int COMMON_CONFIG_MSIX_VECTOR = 0x10;    // le16 RW
    public static final int COMMON_NUM_QUEUES = 0x12;            // le16 RO
    public static final int COMMON_DEVICE_STATUS = 0x14;         // u8 RW
    public static final int COMMON_CONFIG_GENERATION = 0x15;     // u8 RO
    public static final int COMMON_QUEUE_SELECT = 0x16;          // le16 RW
    public static final int COMMON_QUEUE_SIZE = 0x18;            // le16 RW
    public static final int COMMON_QUEUE_MSIX_VECTOR = 0x1a;     // le16 RW
    public static final int COMMON_QUEUE_ENABLE = 0x1c;          // le16 RW
    public static final int COMMON_QUEUE_NOTIFY_OFF = 0x1e;      // le16 RO
    public static final int COMMON_QUEUE_DESC = 0x20;            // le64 RW
    public static final int COMMON_QUEUE_DRIVER = 0x28;          // le64 RW
    public static final int COMMON_QUEUE_DEVICE = 0x30;          // le64 RW
    public static final int COMMON_CFG_SIZE = 0x38;

    /** "No MSI-X vector" for config_msix_vector and queue_msix_vector. */
    public static final int NO_VECTOR = 0xffff;
    /** ISR status bits (§4.1.4.5), read-to-clear. */
    public static final int ISR_QUEUE = 0x1, ISR_CONFIG = 0x2;

    // ---- Device status (§2.1).
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_DEVICE_NEEDS_RESET = 64;
    public static final int STATUS_FAILED = 128;

    // ---- Device-independent feature bits (§6).
    public static final int F_RING_INDIRECT_DESC = 28;
    public static final int F_RING_EVENT_IDX = 29;
    public static final int F_VERSION_1 = 32;

    // ---- Split virtqueue (§2.7).
    public static final int MAX_QUEUE_SIZE = 32768;
    public static final int DESC_SIZE = 16;            // le64 addr, le32 len, le16 flags, le16 next
    public static final int DESC_ADDR = 0, DESC_LEN = 8, DESC_FLAGS = 12, DESC_NEXT = 14;
    public static final int DESC_F_NEXT = 1, DESC_F_WRITE = 2, DESC_F_INDIRECT = 4;
    public static final int AVAIL_FLAGS = 0, AVAIL_IDX = 2, AVAIL_RING = 4; // then le16 used_event
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    public static final int USED_FLAGS = 0, USED_IDX = 2, USED_RING = 4;    // then le16 avail_event
    public static final int USED_ELEM_SIZE = 8;        // le32 id, le32 len
    public static final int USED_F_NO_NOTIFY = 1;

    // ---- Block device (§5.2): feature bits.
    public static final int BLK_F_SIZE_MAX = 1;
    public static final int BLK_F_SEG_MAX = 2;
    public static final int BLK_F_RO = 5;
    public static final int BLK_F_BLK_SIZE = 6;
    public static final int BLK_F_FLUSH = 9;
    public static final int BLK_F_MQ = 12;
    public static final int BLK_F_DISCARD = 13;
    public static final int BLK_F_WRITE_ZEROES = 14;

    // ---- Block device configuration (struct virtio_blk_config).
    public static final int BLK_CFG_CAPACITY = 0x00;                  // le64, in 512-byte sectors
    public static final int BLK_CFG_SIZE_MAX = 0x08;                  // le32
    public static final int BLK_CFG_SEG_MAX = 0x0c;                   // le32
    public static final int BLK_CFG_BLK_SIZE = 0x14;                  // le32
    public static final int BLK_CFG_NUM_QUEUES = 0x22;                // le16
    public static final int BLK_CFG_MAX_DISCARD_SECTORS = 0x24;       // le32
    public static final int BLK_CFG_MAX_DISCARD_SEG = 0x28;           // le32
    public static final int BLK_CFG_DISCARD_SECTOR_ALIGNMENT = 0x2c;  // le32
    public static final int BLK_CFG_MAX_WRITE_ZEROES_SECTORS = 0x30;  // le32
    public static final int BLK_CFG_MAX_WRITE_ZEROES_SEG = 0x34;      // le32
    public static final int BLK_CFG_WRITE_ZEROES_MAY_UNMAP = 0x38;    // u8
    public static final int BLK_CFG_SIZE = 0x3c;

    // ---- Block requests (struct virtio_blk_req): header, data, status byte.
    public static final int BLK_REQ_TYPE = 0;          // le32
    public static final int BLK_REQ_SECTOR = 8;        // le64
    public static final int BLK_REQ_HEADER_SIZE = 16;
    public static final int BLK_T_IN = 0, BLK_T_OUT = 1, BLK_T_FLUSH = 4, BLK_T_GET_ID = 8,
            BLK_T_DISCARD = 11, BLK_T_WRITE_ZEROES = 13;
    public static final int BLK_S_OK = 0, BLK_S_IOERR = 1, BLK_S_UNSUPP = 2;
    public static final int BLK_ID_BYTES = 20;
    /** struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags. */
    public static final int BLK_DWZ_SECTOR = 0, BLK_DWZ_NUM_SECTORS = 8, BLK_DWZ_FLAGS = 12, BLK_DWZ_SIZE = 16;
    public static final int BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    /** The mask for feature {@code bit} in a 64-bit feature word. */
    public static long featureBit(int bit) {
        return 1L << bit;
    }
}
