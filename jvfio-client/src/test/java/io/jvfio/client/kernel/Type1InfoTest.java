package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.protocol.ProtocolException;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** VFIO_IOMMU_GET_INFO replies as a type1 container writes them, decoded with the shared capability chain. */
class Type1InfoTest {
    /** A reply as vfio_iommu_type1 builds it: the struct, then the IOVA-range cap at 24, the DMA-avail cap after it. */
    private static MemorySegment reply(int nrIovas, long... startLast) {
        int rangeCap = 16 + 16 * (startLast.length / 2);
        MemorySegment s = MemorySegment.ofArray(new byte[24 + rangeCap + 16]);
        s.set(JAVA_INT_UNALIGNED, 0, (int) s.byteSize());
        s.set(JAVA_INT_UNALIGNED, 4, KernelUapi.VFIO_IOMMU_INFO_PGSIZES | KernelUapi.VFIO_IOMMU_INFO_CAPS);
        s.set(JAVA_LONG_UNALIGNED, 8, 0x4020_1000L); // 4K, 2M, 1G
        s.set(JAVA_INT_UNALIGNED, 16, 24);
        s.set(JAVA_SHORT_UNALIGNED, 24, (short) KernelUapi.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
        s.set(JAVA_SHORT_UNALIGNED, 26, (short) 1);
        s.set(JAVA_INT_UNALIGNED, 28, 24 + rangeCap);
        s.set(JAVA_INT_UNALIGNED, 32, nrIovas);
        for (int i = 0; i < startLast.length; i++) {
            s.set(JAVA_LONG_UNALIGNED, 40 + 8L * i, startLast[i]);
        }
        long avail = 24 + rangeCap;
        s.set(JAVA_SHORT_UNALIGNED, avail, (short) KernelUapi.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
        s.set(JAVA_SHORT_UNALIGNED, avail + 2, (short) 1);
        s.set(JAVA_INT_UNALIGNED, avail + 8, 65535);
        return s;
    }

    @Test
    void rangesPageSizesAndMappingsLeft() throws Exception {
        // What intel-iommu reports: everything but the MSI window.
        Type1Info info = Type1Info.decode(reply(2, 0, 0xFEDF_FFFFL, 0xFEF0_0000L, 0x7F_FFFF_FFFFL));
        assertThat(info.pageSizes()).isEqualTo(0x4020_1000L);
        assertThat(info.ranges()).containsExactly(new IovaRange(0, 0xFEDF_FFFFL), new IovaRange(0xFEF0_0000L, 0x7F_FFFF_FFFFL));
        assertThat(info.dmaMappingsAvailable()).hasValue(65535);
        assertThat(IovaRange.outside(info.ranges(), 0x10_0000, 0x1000)).isNull();
        assertThat(IovaRange.outside(info.ranges(), 0xFEE0_0000L, 0x1000))
                .isEqualTo("IOVA [0xfee00000, +0x1000) is outside the ranges the IOMMU allows: "
                        + "[[0x0, 0xfedfffff], [0xfef00000, 0x7fffffffff]]");
        assertThat(IovaRange.outside(info.ranges(), 0xFEDF_F000L, 0x2000)).as("straddles the hole").isNotNull();
    }

    @Test
    void withoutCapabilitiesEverythingIsAllowed() throws Exception {
        MemorySegment s = MemorySegment.ofArray(new byte[24]);
        s.set(JAVA_INT_UNALIGNED, 0, 24);
        s.set(JAVA_INT_UNALIGNED, 4, KernelUapi.VFIO_IOMMU_INFO_PGSIZES);
        s.set(JAVA_LONG_UNALIGNED, 8, 0x1000);
        Type1Info info = Type1Info.decode(s);
        assertThat(info.ranges()).containsExactly(new IovaRange(0, -1L));
        assertThat(info.dmaMappingsAvailable()).isEmpty();
        assertThat(IovaRange.outside(info.ranges(), -0x1000L, 0x1000)).isNull();
        assertThat(Type1Info.argsz(Type1Info.request(24))).isEqualTo(24);
    }

    @Test
    void aCountBeyondTheCapabilityOrABadChainIsRefused() {
        assertThatThrownBy(() -> Type1Info.decode(reply(9, 0, 0xFFFF))).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("9 IOVA ranges do not fit");
        MemorySegment loop = reply(1, 0, 0xFFFF);
        loop.set(JAVA_INT_UNALIGNED, 28, 24); // the cap's next points at itself
        assertThatThrownBy(() -> Type1Info.decode(loop)).isInstanceOf(ProtocolException.class).hasMessageContaining("loops");
        assertThatThrownBy(() -> Type1Info.decode(MemorySegment.ofArray(new byte[16]))).isInstanceOf(ProtocolException.class);
    }
}
