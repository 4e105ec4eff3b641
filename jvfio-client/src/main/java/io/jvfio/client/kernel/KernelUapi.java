package io.jvfio.client.kernel;

import io.jvfio.linux.Ioctl;

/**
 * The numbers of the kernel's VFIO and iommufd uAPI ({@code linux/vfio.h}, {@code linux/iommufd.h})
 * that vfio-user does not share: the ioctl requests and the container, group and iommufd flags.
 * What both share (region, irq and feature flags, the struct layouts of the device fd's ioctls) is
 * in {@link io.jvfio.protocol.Vfio} and the records of {@code io.jvfio.protocol}. Every request is
 * {@code _IO(';', base + n)}: VFIO's base is 100, iommufd's 0x80.
 */
public final class KernelUapi {
    private KernelUapi() {}

    /** VFIO_TYPE and IOMMUFD_TYPE: both use ';'. */
    public static final char VFIO_TYPE = ';';
    public static final int VFIO_BASE = 100;
    public static final int IOMMUFD_BASE = 0x80;
    /** What VFIO_GET_API_VERSION answers. */
    public static final int VFIO_API_VERSION = 0;

    // ---- the container /dev/vfio/vfio
    public static final long VFIO_GET_API_VERSION = vfio(0);
    public static final long VFIO_CHECK_EXTENSION = vfio(1);
    public static final long VFIO_SET_IOMMU = vfio(2);
    public static final long VFIO_IOMMU_GET_INFO = vfio(12);
    public static final long VFIO_IOMMU_MAP_DMA = vfio(13);
    public static final long VFIO_IOMMU_UNMAP_DMA = vfio(14);

    // ---- a group /dev/vfio/N
    public static final long VFIO_GROUP_GET_STATUS = vfio(3);
    public static final long VFIO_GROUP_SET_CONTAINER = vfio(4);
    public static final long VFIO_GROUP_UNSET_CONTAINER = vfio(5);
    public static final long VFIO_GROUP_GET_DEVICE_FD = vfio(6);

    // ---- a device fd
    public static final long VFIO_DEVICE_GET_INFO = vfio(7);
    public static final long VFIO_DEVICE_GET_REGION_INFO = vfio(8);
    public static final long VFIO_DEVICE_GET_IRQ_INFO = vfio(9);
    public static final long VFIO_DEVICE_SET_IRQS = vfio(10);
    public static final long VFIO_DEVICE_RESET = vfio(11);
    public static final long VFIO_DEVICE_FEATURE = vfio(17);
    /** Only on a device cdev /dev/vfio/devices/vfioN. */
    public static final long VFIO_DEVICE_BIND_IOMMUFD = vfio(18);
    public static final long VFIO_DEVICE_ATTACH_IOMMUFD_PT = vfio(19);
    public static final long VFIO_DEVICE_DETACH_IOMMUFD_PT = vfio(20);

    // ---- /dev/iommu
    public static final long IOMMU_DESTROY = iommufd(0);
    public static final long IOMMU_IOAS_ALLOC = iommufd(1);
    public static final long IOMMU_IOAS_IOVA_RANGES = iommufd(4);
    public static final long IOMMU_IOAS_MAP = iommufd(5);
    public static final long IOMMU_IOAS_UNMAP = iommufd(6);

    // ---- container extensions (CHECK_EXTENSION, SET_IOMMU)
    public static final int VFIO_TYPE1_IOMMU = 1;
    public static final int VFIO_TYPE1v2_IOMMU = 3;
    public static final int VFIO_NOIOMMU_IOMMU = 8;
    public static final int VFIO_UNMAP_ALL = 9;

    // ---- struct vfio_group_status.flags
    public static final int VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
    public static final int VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

    // ---- struct vfio_iommu_type1_info.flags and its capabilities
    public static final int VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
    public static final int VFIO_IOMMU_INFO_CAPS = 1 << 1;
    public static final int VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
    public static final int VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

    // ---- struct iommu_ioas_map.flags
    public static final int IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
    public static final int IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
    public static final int IOMMU_IOAS_MAP_READABLE = 1 << 2;

    private static long vfio(int n) {
        return Ioctl.io(VFIO_TYPE, VFIO_BASE + n);
    }

    private static long iommufd(int n) {
        return Ioctl.io(VFIO_TYPE, IOMMUFD_BASE + n);
    }
}
