package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AccessTest {

    private final ConfigSpace cfg = Devices.full(ConfigSpace.Size.PCI).build();

    @Test
    void dwordReadSpanningRegisters() {
        cfg.write(PciRegisters.INTERRUPT_LINE, 1, 0x0b);
        assertThat(cfg.read(PciRegisters.INTERRUPT_LINE, 4)).isEqualTo(0x0000_010b);
        assertThat(cfg.read(0x3e, 4)).isEqualTo(cfg.read(0x40, 2) << 16);
        assertThat(cfg.read(0x3d, 2)).isEqualTo(1);
        assertThat(cfg.read(0x01, 4)).isEqualTo(Devices.DEVICE << 8 | Devices.VENDOR >>> 8);
    }

    @Test
    void unalignedWritesAcrossRegisters() {
        // Status low byte, revision, class: nothing writable except command's high byte is outside.
        cfg.write(0x05, 4, 0xffff_ffff);
        assertThat(cfg.read(0x04, 4)).isEqualTo(0x0010_0500);
        cfg.write(0x3b, 2, 0x0a00);
        assertThat(cfg.read(PciRegisters.INTERRUPT_LINE, 1)).isEqualTo(0x0a);
    }

    @Test
    void accessesOutsideTheSpaceAreRejected() {
        assertThatThrownBy(() -> cfg.read(0xfe, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("256-byte");
        assertThatThrownBy(() -> cfg.read(256, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.read(-1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.write(0xff, 2, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.read(0, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.write(0, 8, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.read(200, new byte[100], 0, 100)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> cfg.read(0, new byte[10], 0, 20)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(cfg.read(0xff, 1)).isZero();
    }

    @Test
    void headerDeclarationsAreValidated() {
        ConfigSpaceBuilder builder = ConfigSpace.builder(ConfigSpace.Size.PCI);
        assertThatThrownBy(builder::build).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> builder.vendorId(0xffff)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.vendorId(0x10000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.classCode(0x1000000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.revision(256)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.interruptPin(5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.expansionRom(1024)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.expansionRom(3 * 4096)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void toStringNamesTheDevice() {
        assertThat(cfg.toString()).contains("494f:0dc8", "256 bytes");
    }
}
