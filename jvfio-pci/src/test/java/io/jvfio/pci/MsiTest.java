package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.pci.PciRegisters.Msi;
import org.junit.jupiter.api.Test;

class MsiTest {

    private static ConfigSpace withMsi(int vectors, boolean address64, boolean masking) {
        return Devices.minimal(ConfigSpace.Size.PCI).capability(Capabilities.msi(vectors, address64, masking)).build();
    }

    @Test
    void messageControlAdvertisesTheDeclaration() {
        ConfigSpace cfg = withMsi(4, true, true);
        int offset = cfg.capability(PciCapabilityIds.MSI).orElseThrow().offset();
        assertThat(cfg.read(offset + Msi.FLAGS, 2)).isEqualTo(2 << 1 | Msi.FLAGS_64BIT | Msi.FLAGS_PER_VECTOR_MASK);
        MsiState state = cfg.msi().orElseThrow();
        assertThat(state.enabled()).isFalse();
        assertThat(state.vectorsCapable()).isEqualTo(4);
        assertThat(state.vectorsEnabled()).isEqualTo(1);
        assertThat(state.is64Bit()).isTrue();
        assertThat(state.perVectorMasking()).isTrue();
    }

    @Test
    void guestProgramsA64BitMessage() {
        ConfigSpace cfg = withMsi(4, true, true);
        int offset = cfg.msi().orElseThrow().offset();
        cfg.write(offset + Msi.ADDRESS_LO, 4, 0xfee0_100f);
        cfg.write(offset + Msi.ADDRESS_HI, 4, 0x1);
        cfg.write(offset + Msi.DATA_64, 4, 0xabcd_4021);
        cfg.write(offset + Msi.MASK_64, 4, 0xffff_fffa);
        cfg.write(offset + Msi.FLAGS, 2, 2 << Msi.FLAGS_MULTIPLE_ENABLE_SHIFT | Msi.FLAGS_ENABLE);

        MsiState state = cfg.msi().orElseThrow();
        assertThat(state.enabled()).isTrue();
        assertThat(state.vectorsEnabled()).isEqualTo(4);
        assertThat(state.address()).as("low two address bits are hardwired 0").isEqualTo(0x1_fee0_100cL);
        assertThat(state.data()).as("16-bit data").isEqualTo(0x4021);
        assertThat(state.dataFor(2)).isEqualTo(0x4022);
        assertThat(state.maskBits()).as("only the 4 vector bits exist").isEqualTo(0xa);
        assertThat(state.isMasked(1)).isTrue();
        assertThat(state.isMasked(0)).isFalse();
        assertThat(cfg.read(offset + Msi.DATA_64 + 2, 2)).isZero();
    }

    @Test
    void multipleMessageEnableIsClampedToWhatTheDeviceAsksFor() {
        ConfigSpace cfg = withMsi(4, false, false);
        int flags = cfg.msi().orElseThrow().offset() + Msi.FLAGS;
        cfg.write(flags, 2, 5 << Msi.FLAGS_MULTIPLE_ENABLE_SHIFT);
        assertThat(cfg.msi().orElseThrow().vectorsEnabled()).isEqualTo(4);
        cfg.write(flags, 1, 1 << Msi.FLAGS_MULTIPLE_ENABLE_SHIFT | Msi.FLAGS_ENABLE);
        assertThat(cfg.msi().orElseThrow().vectorsEnabled()).isEqualTo(2);
        assertThat(cfg.msi().orElseThrow().enabled()).isTrue();
    }

    @Test
    void capabilityBitsAreReadOnly() {
        ConfigSpace cfg = withMsi(1, false, false);
        int flags = cfg.msi().orElseThrow().offset() + Msi.FLAGS;
        cfg.write(flags, 2, 0xffff);
        assertThat(cfg.read(flags, 2)).as("only enable; MME clamped to 0").isEqualTo(Msi.FLAGS_ENABLE);
    }

    @Test
    void thirtyTwoBitLayoutWithMasking() {
        ConfigSpace cfg = withMsi(32, false, true);
        MsiState state = cfg.msi().orElseThrow();
        int offset = state.offset();
        assertThat(cfg.capability(PciCapabilityIds.MSI).orElseThrow().length()).isEqualTo(Msi.SIZE_32_MASKED);
        cfg.write(offset + Msi.ADDRESS_LO, 4, 0xfee0_0000);
        cfg.write(offset + Msi.DATA_32, 2, 0x41);
        cfg.write(offset + Msi.MASK_32, 4, 0xffff_ffff);
        cfg.write(offset + Msi.PENDING_32, 4, 0xffff_ffff);
        state = cfg.msi().orElseThrow();
        assertThat(state.address()).isEqualTo(0xfee0_0000L);
        assertThat(state.data()).isEqualTo(0x41);
        assertThat(state.maskBits()).isEqualTo(0xffff_ffff);
        assertThat(state.pendingBits()).as("pending bits are read-only to the guest").isZero();
        assertThat(state.vectorsCapable()).isEqualTo(32);
    }

    @Test
    void devicesSetPendingBits() {
        ConfigSpace cfg = withMsi(8, true, true);
        cfg.setMsiPending(5, true);
        cfg.setMsiPending(7, true);
        assertThat(cfg.msi().orElseThrow().pendingBits()).isEqualTo(0xa0);
        cfg.setMsiPending(5, false);
        assertThat(cfg.msi().orElseThrow().isPending(7)).isTrue();
        assertThat(cfg.msi().orElseThrow().isPending(5)).isFalse();
        assertThatThrownBy(() -> cfg.setMsiPending(8, true)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> withMsi(8, true, false).setMsiPending(0, true)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void lengthsFollowTheLayout() {
        assertThat(Capabilities.msi(1, false, false).length()).isEqualTo(10);
        assertThat(Capabilities.msi(1, true, false).length()).isEqualTo(14);
        assertThat(Capabilities.msi(1, false, true).length()).isEqualTo(20);
        assertThat(Capabilities.msi(1, true, true).length()).isEqualTo(24);
    }

    @Test
    void invalidVectorCountsAreRejected() {
        assertThatThrownBy(() -> Capabilities.msi(3, true, false)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Capabilities.msi(64, true, false)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Capabilities.msi(0, true, false)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void absentWithoutTheCapability() {
        assertThat(Devices.minimal(ConfigSpace.Size.PCI).build().msi()).isEmpty();
        assertThat(Devices.minimal(ConfigSpace.Size.PCI).build().msix()).isEmpty();
    }
}
