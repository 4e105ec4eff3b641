package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BarTest {

    private static final int ALL_ONES = 0xffff_ffff;

    private static int size(ConfigSpace cfg, int index) {
        int offset = PciRegisters.barOffset(index);
        cfg.write(offset, 4, ALL_ONES);
        return cfg.read(offset, 4);
    }

    @Test
    void memory32BarSizes() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(2, 0x100)).build();
        assertThat(cfg.read(PciRegisters.barOffset(2), 4)).isZero();
        assertThat(size(cfg, 2)).isEqualTo(0xffff_ff00);
    }

    @Test
    void prefetchableMemory32BarKeepsItsFlag() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(0, 0x1000, true)).build();
        assertThat(cfg.read(PciRegisters.barOffset(0), 4)).isEqualTo(0x8);
        assertThat(size(cfg, 0)).isEqualTo(0xffff_f008);
    }

    @Test
    void memory64BarSizesAcrossBothDwords() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory64(0, 1 << 20, true)).build();
        assertThat(cfg.read(PciRegisters.barOffset(0), 4)).isEqualTo(0xc);
        assertThat(size(cfg, 0)).isEqualTo(0xfff0_000c);
        assertThat(size(cfg, 1)).as("below 4 GiB the upper dword is all ones").isEqualTo(ALL_ONES);
    }

    @Test
    void memory64BarLargerThan4GiBSizesInTheUpperDword() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory64(2, 1L << 33, false)).build();
        assertThat(size(cfg, 2)).isEqualTo(0x4);
        assertThat(size(cfg, 3)).isEqualTo(0xffff_fffe);
    }

    @Test
    void ioBarSizesWithItsSpaceBit() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.io(5, 0x20)).build();
        assertThat(cfg.read(PciRegisters.barOffset(5), 4)).isEqualTo(1);
        assertThat(size(cfg, 5)).isEqualTo(0xffff_ffe1);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3, 4, 5})
    void unusedSlotsReadZeroAndIgnoreWrites(int index) {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(2, 0x100)).build();
        assertThat(size(cfg, index)).isZero();
    }

    @Test
    void barAddressDecodesWhatTheGuestProgrammed() {
        ConfigSpace cfg = Devices.full();
        cfg.write(PciRegisters.barOffset(0), 4, 0xfe00_0000);
        cfg.write(PciRegisters.barOffset(1), 4, 0x1);
        cfg.write(PciRegisters.barOffset(2), 4, 0xfebf_1000);
        cfg.write(PciRegisters.barOffset(4), 4, 0xc041);

        assertThat(cfg.barAddress(0)).isEqualTo(0x1_fe00_0000L);
        assertThat(cfg.barAddress(2)).isEqualTo(0xfebf_1000L);
        assertThat(cfg.barAddress(4)).isEqualTo(0xc040L);
        assertThat(cfg.read(PciRegisters.barOffset(2), 4)).isEqualTo(0xfebf_1000);
        assertThatThrownBy(() -> cfg.barAddress(1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.barAddress(5)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void lowBitsBelowTheSizeStayZero() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(1, 0x4000)).build();
        cfg.write(PciRegisters.barOffset(1), 4, 0xfebf_ffff);
        assertThat(cfg.barAddress(1)).isEqualTo(0xfebf_c000L);
    }

    @Test
    void barsAreListedByIndex() {
        ConfigSpace cfg = Devices.full();
        assertThat(cfg.bars()).extracting(Bar::index).containsExactly(0, 2, 3, 4);
        assertThat(cfg.bar(0)).contains(Bar.memory64(0, 1 << 20, true));
        assertThat(cfg.bar(1)).isEmpty();
        assertThat(cfg.bar(7)).isEmpty();
        assertThat(Bar.memory64(0, 1 << 20, true).slots()).isEqualTo(2);
    }

    @Test
    void invalidDeclarationsAreRejected() {
        assertThatThrownBy(() -> Bar.memory64(5, 4096, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("index 5");
        assertThatThrownBy(() -> Bar.memory32(0, 3000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("power of two");
        assertThatThrownBy(() -> Bar.memory32(0, 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside");
        assertThatThrownBy(() -> Bar.io(0, 512)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bar.io(0, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bar.memory32(6, 4096)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bar.memory32(0, 1L << 32)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Bar(0, Bar.Type.IO, 16, true)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void overlappingIndicesAreRejected() {
        ConfigSpaceBuilder builder = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory64(0, 4096, false));
        assertThatThrownBy(() -> builder.bar(Bar.io(0, 0x20)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps");
        assertThatThrownBy(() -> builder.bar(Bar.memory32(1, 4096)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps BAR 0");

        ConfigSpaceBuilder other = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(3, 4096));
        assertThatThrownBy(() -> other.bar(Bar.memory64(2, 4096, false)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps BAR 3");
    }
}
