package io.jvfio.client.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.DeviceException;
import io.jvfio.linux.Errno;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The checks made before the kernel sees a DMA map or unmap. */
class DmaMappingsTest {
    private static final List<IovaRange> BELOW_MSI = List.of(new IovaRange(0, 0xFEDF_FFFFL));
    private final DmaMappings mappings = new DmaMappings();

    private static void assertErrno(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, int errno, String message) {
        assertThatThrownBy(call).isInstanceOfSatisfying(DeviceException.class, e -> assertThat(e.errno()).isEqualTo(errno))
                .hasMessageContaining(message);
    }

    @Test
    void anIovaOutsideTheRangesIsRefused() {
        assertErrno(() -> mappings.add(0xFEE0_0000L, 0x1000, BELOW_MSI), Errno.EINVAL, "outside the ranges the IOMMU allows");
    }

    @Test
    void partPagesAreRefused() {
        assertErrno(() -> mappings.add(0x1000, 0x800, BELOW_MSI), Errno.EINVAL, "not whole pages");
        assertErrno(() -> mappings.add(0x1800, 0x1000, BELOW_MSI), Errno.EINVAL, "not whole pages");
        assertErrno(() -> mappings.add(0x1000, 0, BELOW_MSI), Errno.EINVAL, "not whole pages");
    }

    @Test
    void overlapsAreRefusedNeighboursAreNot() throws Exception {
        mappings.add(0x10_0000, 0x4000, BELOW_MSI);
        assertErrno(() -> mappings.add(0x10_3000, 0x2000, BELOW_MSI), Errno.EEXIST, "overlaps the mapping [0x100000, +0x4000)");
        assertErrno(() -> mappings.add(0xF_F000, 0x2000, BELOW_MSI), Errno.EEXIST, "overlaps");
        mappings.add(0x10_4000, 0x1000, BELOW_MSI);
        mappings.add(0xF_F000, 0x1000, BELOW_MSI);
        assertThat(mappings.clear()).hasSize(3);
    }

    @Test
    void unmappingWhatWasNeverMappedOrPartOfAMappingIsRefused() throws Exception {
        assertErrno(() -> mappings.remove(0x10_0000, 0x1000), Errno.ENOENT, "never mapped");
        mappings.add(0x10_0000, 0x4000, BELOW_MSI);
        assertErrno(() -> mappings.remove(0x10_0000, 0x1000), Errno.EINVAL, "not the whole mapping");
        mappings.remove(0x10_0000, 0x4000);
        assertErrno(() -> mappings.remove(0x10_0000, 0x4000), Errno.ENOENT, "unmapped already");
        assertThat(mappings.clear()).isEmpty();
    }
}
