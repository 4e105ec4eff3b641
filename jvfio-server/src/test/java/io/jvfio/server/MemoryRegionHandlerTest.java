package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The core's memory-backed region handler, and a BAR declared mappable in one call. */
class MemoryRegionHandlerTest {
    @Test
    void trappedAccessesReadAndWriteTheMemory() throws Exception {
        RamTestDevice device = new RamTestDevice(0x1000);
        device.regionWrite(RamTestDevice.RAM_BAR, 0x20, MemorySegment.ofArray(new byte[] {1, 2, 3, 4}));
        assertThat(device.ram.get(ValueLayout.JAVA_INT_UNALIGNED, 0x20)).isEqualTo(0x04030201);
        device.ram.set(ValueLayout.JAVA_LONG_UNALIGNED, 0x800, 0x1122334455667788L);
        MemorySegment got = MemorySegment.ofArray(new byte[8]);
        device.regionRead(RamTestDevice.RAM_BAR, 0x800, got);
        assertThat(got.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(0x1122334455667788L);
        assertThat(device.regionInfo(RamTestDevice.RAM_BAR).mmap()).isEmpty();
    }

    @Test
    void anAccessPastTheBarIsRefusedBeforeTheHandler() {
        RamTestDevice device = new RamTestDevice(0x1000);
        assertThatThrownBy(() -> device.regionRead(RamTestDevice.RAM_BAR, 0xffc, MemorySegment.ofArray(new byte[8])))
                .isInstanceOfSatisfying(VfioException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }

    /** BAR 0 mapped whole from the device's memfd, trapped accesses to the same memory. */
    static final class WholeBarDevice extends PciDevice {
        WholeBarDevice(Fd fd, MemorySegment memory) {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5678)
                    .bar(Bar.memory32(0, 0x1000)).build());
            bar(0, new MemoryRegionHandler(memory), RegionSpec.Mmap.whole(fd));
        }
    }

    @Test
    void aBarDeclaredMappableOffersItsFileWhole() throws Exception {
        try (Fd fd = Memfd.create("whole-bar", 0x1000); Mapping mapping = Mapping.map(fd, 0, 0x1000, true)) {
            WholeBarDevice device = new WholeBarDevice(fd, mapping.segment());
            RegionSpec info = device.regionInfo(0);
            assertThat(info.size()).isEqualTo(0x1000);
            assertThat(info.access()).isEqualTo(Access.READ_WRITE);
            RegionSpec.Mmap mmap = info.mmap().orElseThrow();
            assertThat(mmap.fd()).isSameAs(fd);
            assertThat(mmap.areas()).isEmpty();
            device.regionWrite(0, 8, MemorySegment.ofArray(new byte[] {42}));
            assertThat(mapping.segment().get(ValueLayout.JAVA_BYTE, 8)).isEqualTo((byte) 42);
        }
    }
}
