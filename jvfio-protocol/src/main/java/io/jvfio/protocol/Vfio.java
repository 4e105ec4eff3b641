package io.jvfio.protocol;

/**
 * The uAPI constants vfio-user reuses, named after {@code linux/vfio.h} (and {@code linux/vfio_zdev.h})
 * without the {@code VFIO_} prefix. The one home of each number; vfio-user-only values are marked.
 */
public final class Vfio {
    private Vfio() {}

    // ---- struct vfio_device_info.flags
    public static final int DEVICE_FLAGS_RESET = 1 << 0;
    public static final int DEVICE_FLAGS_PCI = 1 << 1;
    public static final int DEVICE_FLAGS_PLATFORM = 1 << 2;
    public static final int DEVICE_FLAGS_AMBA = 1 << 3;
    public static final int DEVICE_FLAGS_CCW = 1 << 4;
    public static final int DEVICE_FLAGS_AP = 1 << 5;
    public static final int DEVICE_FLAGS_FSL_MC = 1 << 6;
    public static final int DEVICE_FLAGS_CAPS = 1 << 7;
    public static final int DEVICE_FLAGS_CDX = 1 << 8;

    // ---- device-info capability ids (vfio_zdev.h for the zPCI ones)
    public static final int DEVICE_INFO_CAP_ZPCI_BASE = 1;
    public static final int DEVICE_INFO_CAP_ZPCI_GROUP = 2;
    public static final int DEVICE_INFO_CAP_ZPCI_UTIL = 3;
    public static final int DEVICE_INFO_CAP_ZPCI_PFIP = 4;
    public static final int DEVICE_INFO_CAP_PCI_ATOMIC_COMP = 5;

    // ---- PCI region indices
    public static final int PCI_BAR0_REGION_INDEX = 0;
    public static final int PCI_BAR1_REGION_INDEX = 1;
    public static final int PCI_BAR2_REGION_INDEX = 2;
    public static final int PCI_BAR3_REGION_INDEX = 3;
    public static final int PCI_BAR4_REGION_INDEX = 4;
    public static final int PCI_BAR5_REGION_INDEX = 5;
    public static final int PCI_ROM_REGION_INDEX = 6;
    public static final int PCI_CONFIG_REGION_INDEX = 7;
    public static final int PCI_VGA_REGION_INDEX = 8;
    public static final int PCI_NUM_REGIONS = 9;

    // ---- struct vfio_region_info.flags
    public static final int REGION_INFO_FLAG_READ = 1 << 0;
    public static final int REGION_INFO_FLAG_WRITE = 1 << 1;
    public static final int REGION_INFO_FLAG_MMAP = 1 << 2;
    public static final int REGION_INFO_FLAG_CAPS = 1 << 3;

    // ---- region-info capability ids
    public static final int REGION_INFO_CAP_SPARSE_MMAP = 1;
    public static final int REGION_INFO_CAP_TYPE = 2;
    public static final int REGION_INFO_CAP_MSIX_MAPPABLE = 3;
    public static final int REGION_INFO_CAP_NVLINK2_SSATGT = 4;
    public static final int REGION_INFO_CAP_NVLINK2_LNKSPD = 5;
    /** vfio-user only (pending, SPEC+): sparse areas each backed by one of several fds. */
    public static final int REGION_INFO_CAP_SPARSE_MMAP_FDS = 16;

    // ---- region types / subtypes (REGION_INFO_CAP_TYPE)
    public static final int REGION_TYPE_PCI_VENDOR_TYPE = 1 << 31;
    public static final int REGION_TYPE_PCI_VENDOR_MASK = 0xffff;
    public static final int REGION_TYPE_GFX = 2;
    public static final int REGION_TYPE_CCW = 3;
    public static final int REGION_TYPE_MIGRATION_DEPRECATED = 4;
    public static final int PCI_VENDOR_ID_INTEL = 0x8086;
    public static final int PCI_VENDOR_ID_NVIDIA = 0x10de;
    public static final int PCI_VENDOR_ID_IBM = 0x1014;
    public static final int REGION_SUBTYPE_INTEL_IGD_OPREGION = 1;
    public static final int REGION_SUBTYPE_INTEL_IGD_HOST_CFG = 2;
    public static final int REGION_SUBTYPE_INTEL_IGD_LPC_CFG = 3;
    public static final int REGION_SUBTYPE_GFX_EDID = 1;
    public static final int REGION_SUBTYPE_CCW_ASYNC_CMD = 1;
    public static final int REGION_SUBTYPE_CCW_SCHIB = 2;
    public static final int REGION_SUBTYPE_CCW_CRW = 3;
    public static final int REGION_SUBTYPE_NVIDIA_NVLINK2_RAM = 1;
    public static final int REGION_SUBTYPE_IBM_NVLINK2_ATSD = 1;
    public static final int REGION_SUBTYPE_MIGRATION_DEPRECATED = 1;

    // ---- PCI IRQ indices
    public static final int PCI_INTX_IRQ_INDEX = 0;
    public static final int PCI_MSI_IRQ_INDEX = 1;
    public static final int PCI_MSIX_IRQ_INDEX = 2;
    public static final int PCI_ERR_IRQ_INDEX = 3;
    public static final int PCI_REQ_IRQ_INDEX = 4;
    public static final int PCI_NUM_IRQS = 5;

    // ---- struct vfio_irq_info.flags
    public static final int IRQ_INFO_EVENTFD = 1 << 0;
    public static final int IRQ_INFO_MASKABLE = 1 << 1;
    public static final int IRQ_INFO_AUTOMASKED = 1 << 2;
    public static final int IRQ_INFO_NORESIZE = 1 << 3;

    // ---- struct vfio_irq_set.flags
    public static final int IRQ_SET_DATA_NONE = 1 << 0;
    public static final int IRQ_SET_DATA_BOOL = 1 << 1;
    public static final int IRQ_SET_DATA_EVENTFD = 1 << 2;
    public static final int IRQ_SET_ACTION_MASK = 1 << 3;
    public static final int IRQ_SET_ACTION_UNMASK = 1 << 4;
    public static final int IRQ_SET_ACTION_TRIGGER = 1 << 5;
    public static final int IRQ_SET_DATA_TYPE_MASK = IRQ_SET_DATA_NONE | IRQ_SET_DATA_BOOL | IRQ_SET_DATA_EVENTFD;
    public static final int IRQ_SET_ACTION_TYPE_MASK = IRQ_SET_ACTION_MASK | IRQ_SET_ACTION_UNMASK | IRQ_SET_ACTION_TRIGGER;

    // ---- DMA_MAP flags (vfio-user: bits 2-3 are the access mode, not the kernel's VADDR)
    public static final int DMA_MAP_FLAG_READ = 1 << 0;
    public static final int DMA_MAP_FLAG_WRITE = 1 << 1;
    /** vfio-user (SPEC+, libvfio-user): access the passed fd with mmap. */
    public static final int DMA_MAP_FLAG_ACCESS_MMAP = 1 << 2;
    /** vfio-user (SPEC+, libvfio-user): access the passed fd with pread/pwrite. */
    public static final int DMA_MAP_FLAG_ACCESS_FILE_IO = 1 << 3;

    // ---- DMA_UNMAP flags
    public static final int DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
    public static final int DMA_UNMAP_FLAG_ALL = 1 << 1;

    // ---- DEVICE_FEATURE flags and feature indices
    public static final int DEVICE_FEATURE_MASK = 0xffff;
    public static final int DEVICE_FEATURE_GET = 1 << 16;
    public static final int DEVICE_FEATURE_SET = 1 << 17;
    public static final int DEVICE_FEATURE_PROBE = 1 << 18;
    public static final int DEVICE_FEATURE_PCI_VF_TOKEN = 0;
    public static final int DEVICE_FEATURE_MIGRATION = 1;
    public static final int DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
    public static final int DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
    public static final int DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP = 4;
    public static final int DEVICE_FEATURE_LOW_POWER_EXIT = 5;
    public static final int DEVICE_FEATURE_DMA_LOGGING_START = 6;
    public static final int DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
    public static final int DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;
    public static final int DEVICE_FEATURE_MIG_DATA_SIZE = 9;

    // ---- struct vfio_device_feature_migration.flags
    public static final long MIGRATION_STOP_COPY = 1L << 0;
    public static final long MIGRATION_P2P = 1L << 1;
    public static final long MIGRATION_PRE_COPY = 1L << 2;

    // ---- KVM flags used in GET_REGION_IO_FDS entries
    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;
    public static final int KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY = 1 << 3;
    public static final int KVM_IOREGION_PIO = 1 << 0;
    public static final int KVM_IOREGION_POSTED_WRITES = 1 << 1;
}
