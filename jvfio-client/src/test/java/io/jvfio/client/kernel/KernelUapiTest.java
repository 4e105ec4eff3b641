package io.jvfio.client.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.RegionInfo;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The request numbers and struct layouts against the kernel's, written down independently: the VFIO
 * values as gcc prints them from linux/vfio.h (VFIO_GET_API_VERSION ...), the iommufd ones and the
 * newer structs from the survey's gcc run over linux/iommufd.h (reference §7).
 */
class KernelUapiTest {
    @Test
    void vfioRequestNumbersAreTheHeadersValues() {
        assertThat(KernelUapi.VFIO_GET_API_VERSION).isEqualTo(0x3B64);
        assertThat(KernelUapi.VFIO_CHECK_EXTENSION).isEqualTo(0x3B65);
        assertThat(KernelUapi.VFIO_SET_IOMMU).isEqualTo(0x3B66);
        assertThat(KernelUapi.VFIO_GROUP_GET_STATUS).isEqualTo(0x3B67);
        assertThat(KernelUapi.VFIO_GROUP_SET_CONTAINER).isEqualTo(0x3B68);
        assertThat(KernelUapi.VFIO_GROUP_UNSET_CONTAINER).isEqualTo(0x3B69);
        assertThat(KernelUapi.VFIO_GROUP_GET_DEVICE_FD).isEqualTo(0x3B6A);
        assertThat(KernelUapi.VFIO_DEVICE_GET_INFO).isEqualTo(0x3B6B);
        assertThat(KernelUapi.VFIO_DEVICE_GET_REGION_INFO).isEqualTo(0x3B6C);
        assertThat(KernelUapi.VFIO_DEVICE_GET_IRQ_INFO).isEqualTo(0x3B6D);
        assertThat(KernelUapi.VFIO_DEVICE_SET_IRQS).isEqualTo(0x3B6E);
        assertThat(KernelUapi.VFIO_DEVICE_RESET).isEqualTo(0x3B6F);
        assertThat(KernelUapi.VFIO_IOMMU_GET_INFO).isEqualTo(0x3B70);
        assertThat(KernelUapi.VFIO_IOMMU_MAP_DMA).isEqualTo(0x3B71);
        assertThat(KernelUapi.VFIO_IOMMU_UNMAP_DMA).isEqualTo(0x3B72);
        assertThat(KernelUapi.VFIO_DEVICE_FEATURE).isEqualTo(0x3B75);
        assertThat(KernelUapi.VFIO_DEVICE_BIND_IOMMUFD).isEqualTo(0x3B76);
        assertThat(KernelUapi.VFIO_DEVICE_ATTACH_IOMMUFD_PT).isEqualTo(0x3B77);
        assertThat(KernelUapi.VFIO_DEVICE_DETACH_IOMMUFD_PT).isEqualTo(0x3B78);
    }

    @Test
    void iommufdRequestNumbersAndFlags() {
        assertThat(KernelUapi.IOMMU_DESTROY).isEqualTo(0x3B80);
        assertThat(KernelUapi.IOMMU_IOAS_ALLOC).isEqualTo(0x3B81);
        assertThat(KernelUapi.IOMMU_IOAS_IOVA_RANGES).isEqualTo(0x3B84);
        assertThat(KernelUapi.IOMMU_IOAS_MAP).isEqualTo(0x3B85);
        assertThat(KernelUapi.IOMMU_IOAS_UNMAP).isEqualTo(0x3B86);
        assertThat(KernelUapi.IOMMU_IOAS_MAP_FIXED_IOVA | KernelUapi.IOMMU_IOAS_MAP_WRITEABLE
                | KernelUapi.IOMMU_IOAS_MAP_READABLE).isEqualTo(7);
        assertThat(new int[] {KernelUapi.VFIO_TYPE1_IOMMU, KernelUapi.VFIO_TYPE1v2_IOMMU, KernelUapi.VFIO_NOIOMMU_IOMMU,
                KernelUapi.VFIO_UNMAP_ALL}).containsExactly(1, 3, 8, 9);
    }

    @Test
    void containerAndGroupStructs() {
        assertThat(VfioGroup.STATUS_SIZE).isEqualTo(8);
        assertThat(VfioGroup.STATUS_FLAGS).isEqualTo(4);
        assertThat(Type1Info.SIZE).isEqualTo(24);
        assertThat(Type1Info.PGSIZES).isEqualTo(8);
        assertThat(Type1Info.CAP_OFFSET).isEqualTo(16);
        assertThat(VfioContainer.UNMAP_SIZE_FIELD).isEqualTo(16);
        // vfio_iommu_type1_dma_map: argsz, flags, vaddr@8, iova@16, size@24 — vfio-user's DMA_MAP layout.
        MemorySegment map = DmaMap.of(3, 0x7f00_0000_0000L, 0x10_0000, 0x2000).toSegment();
        assertThat(map.byteSize()).isEqualTo(32);
        assertThat(map.get(ValueLayout.JAVA_INT_UNALIGNED, 0)).isEqualTo(32);
        assertThat(map.get(ValueLayout.JAVA_INT_UNALIGNED, 4)).isEqualTo(3);
        assertThat(map.get(ValueLayout.JAVA_LONG_UNALIGNED, 8)).isEqualTo(0x7f00_0000_0000L);
        assertThat(map.get(ValueLayout.JAVA_LONG_UNALIGNED, 16)).isEqualTo(0x10_0000);
        assertThat(map.get(ValueLayout.JAVA_LONG_UNALIGNED, 24)).isEqualTo(0x2000);
        // vfio_iommu_type1_dma_unmap: argsz, flags, iova@8, size@16; flag ALL = 2.
        MemorySegment unmap = DmaUnmap.of(0x10_0000, 0x2000).toSegment();
        assertThat(unmap.byteSize()).isEqualTo(24);
        assertThat(unmap.get(ValueLayout.JAVA_LONG_UNALIGNED, 8)).isEqualTo(0x10_0000);
        assertThat(unmap.get(ValueLayout.JAVA_LONG_UNALIGNED, 16)).isEqualTo(0x2000);
        assertThat(DmaUnmap.all().flags()).isEqualTo(2);
    }

    @Test
    void deviceFdStructsAreVfioUsersPayloads() {
        assertThat(DeviceInfo.SIZE).isEqualTo(16);                 // up to num_irqs: the kernel's minsz
        assertThat(DeviceInfo.SIZE_WITH_CAP_OFFSET).isEqualTo(24); // with cap_offset and pad
        assertThat(RegionInfo.SIZE).isEqualTo(32);
        assertThat(IrqInfo.SIZE).isEqualTo(16);
        assertThat(IrqSet.SIZE).isEqualTo(20);                     // offsetof(struct vfio_irq_set, data)
    }

    @Test
    void iommufdStructs() {
        assertThat(Iommufd.IOAS_ALLOC.byteSize()).isEqualTo(12);
        assertThat(Ioctls.offset(Iommufd.IOAS_ALLOC, "out_ioas_id")).isEqualTo(8);
        assertThat(Iommufd.IOAS_IOVA_RANGES.byteSize()).isEqualTo(32);
        assertThat(Ioctls.offset(Iommufd.IOAS_IOVA_RANGES, "ioas_id")).isEqualTo(4);
        assertThat(Ioctls.offset(Iommufd.IOAS_IOVA_RANGES, "num_iovas")).isEqualTo(8);
        assertThat(Ioctls.offset(Iommufd.IOAS_IOVA_RANGES, "allowed_iovas")).isEqualTo(16);
        assertThat(Ioctls.offset(Iommufd.IOAS_IOVA_RANGES, "out_iova_alignment")).isEqualTo(24);
        assertThat(Iommufd.IOAS_MAP.byteSize()).isEqualTo(40);
        assertThat(Ioctls.offset(Iommufd.IOAS_MAP, "ioas_id")).isEqualTo(8);
        assertThat(Ioctls.offset(Iommufd.IOAS_MAP, "user_va")).isEqualTo(16);
        assertThat(Ioctls.offset(Iommufd.IOAS_MAP, "length")).isEqualTo(24);
        assertThat(Ioctls.offset(Iommufd.IOAS_MAP, "iova")).isEqualTo(32);
        assertThat(Iommufd.IOAS_UNMAP.byteSize()).isEqualTo(24);
        assertThat(Ioctls.offset(Iommufd.IOAS_UNMAP, "ioas_id")).isEqualTo(4);
        assertThat(Ioctls.offset(Iommufd.IOAS_UNMAP, "iova")).isEqualTo(8);
        assertThat(Ioctls.offset(Iommufd.IOAS_UNMAP, "length")).isEqualTo(16);
        assertThat(Iommufd.DESTROY.byteSize()).isEqualTo(8);
        assertThat(Ioctls.offset(Iommufd.DESTROY, "id")).isEqualTo(4);
        assertThat(Iommufd.BIND.byteSize()).isEqualTo(16);          // the kernel's minimum argsz
        assertThat(Ioctls.offset(Iommufd.BIND, "iommufd")).isEqualTo(8);
        assertThat(Ioctls.offset(Iommufd.BIND, "out_devid")).isEqualTo(12);
        assertThat(Iommufd.ATTACH.byteSize()).isEqualTo(12);        // the kernel's minimum argsz
        assertThat(Ioctls.offset(Iommufd.ATTACH, "pt_id")).isEqualTo(8);
    }
}
