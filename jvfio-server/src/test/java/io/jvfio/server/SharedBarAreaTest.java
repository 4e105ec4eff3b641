package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Linux;
import io.jvfio.linux.Mapping;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** {@link PciDevice#sharedBarArea}: a memfd-backed part of a BAR that client and device share. */
class SharedBarAreaTest {
    static final long PAGE = Linux.PAGE_SIZE;

    /** BAR 0: page 0 trapped (a register file), page 1 shared. */
    static final class Device extends PciDevice {
        final MemorySegment shared;
        final MemorySegment registers = MemorySegment.ofArray(new byte[(int) PAGE]);

        Device() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5678)
                    .bar(Bar.memory32(0, 2 * PAGE)).bar(Bar.io(4, 16)).build());
            bar(0, new MemoryRegionHandler(registers));
            shared = sharedBarArea(0, PAGE, PAGE);
        }

        @Override
        public String name() {
            return "shared-area-test";
        }
    }

    @Test
    void regionInfoOffersTheAreaAndBothSidesSeeTheSameMemory() throws Exception {
        Device d = new Device();
        RegionSpec info = d.regionInfo(0);
        assertThat(info.size()).isEqualTo(2 * PAGE);
        RegionSpec.Mmap mmap = info.mmap().orElseThrow();
        assertThat(mmap.areas()).containsExactly(new RegionSpec.SparseArea(PAGE, PAGE));
        try (Mapping client = Mapping.map(mmap.fd(), mmap.fileOffset() + PAGE, PAGE, true)) {
            // client writes, device sees them without a message
            client.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 8, 0xC0FFEE);
            assertThat(d.shared.get(ValueLayout.JAVA_INT_UNALIGNED, 8)).isEqualTo(0xC0FFEE);
            // device writes, client sees them
            d.shared.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, 0x1122334455667788L);
            assertThat(client.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 16)).isEqualTo(0x1122334455667788L);
            // trapped accesses to the area reach the same memory
            MemorySegment word = MemorySegment.ofArray(new byte[4]);
            d.regionRead(0, PAGE + 8, word);
            assertThat(word.get(ValueLayout.JAVA_INT_UNALIGNED, 0)).isEqualTo(0xC0FFEE);
            word.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0xBEEF);
            d.regionWrite(0, PAGE + 32, word);
            assertThat(client.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 32)).isEqualTo(0xBEEF);
        }
        // the rest of the BAR stays with the handler
        MemorySegment word = MemorySegment.ofArray(new byte[4]);
        word.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x5A5A);
        d.regionWrite(0, 4, word);
        assertThat(d.registers.get(ValueLayout.JAVA_INT_UNALIGNED, 4)).isEqualTo(0x5A5A);
        assertThat(d.shared.get(ValueLayout.JAVA_INT_UNALIGNED, 4)).isZero();
        // a BAR without areas is still trapped only
        assertThat(d.regionInfo(4).mmap()).isEmpty();
    }

    @Test
    void misplacedAreasAreRefused() {
        class Bad extends PciDevice {
            Bad(long offset, long size, int bar) {
                super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(1).deviceId(2).bar(Bar.memory32(0, 2 * PAGE)).bar(Bar.io(4, 16)).build());
                sharedBarArea(0, 0, PAGE);
                sharedBarArea(bar, offset, size);
            }

            @Override
            public String name() {
                return "bad";
            }
        }
        assertThatThrownBy(() -> new Bad(PAGE / 2, PAGE, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Bad(PAGE, 2 * PAGE, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Bad(0, PAGE, 0)).hasMessageContaining("overlaps");
        assertThatThrownBy(() -> new Bad(0, PAGE, 4)).hasMessageContaining("I/O BAR");
        assertThatThrownBy(() -> new Bad(0, PAGE, 1)).hasMessageContaining("not declared");
    }
}
