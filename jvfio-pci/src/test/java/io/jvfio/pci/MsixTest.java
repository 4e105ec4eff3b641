package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.pci.PciRegisters.Msix;
import org.junit.jupiter.api.Test;

class MsixTest {

    @Test
    void capabilityRegistersDescribeTheTable() {
        ConfigSpace cfg = Devices.full();
        int offset = cfg.capability(PciCapabilityIds.MSIX).orElseThrow().offset();
        assertThat(cfg.read(offset + Msix.FLAGS, 2)).isEqualTo(7);
        assertThat(cfg.read(offset + Msix.TABLE, 4)).isEqualTo(0x3);
        assertThat(cfg.read(offset + Msix.PBA, 4)).isEqualTo(0x803);
        assertThat(cfg.msix()).contains(new MsixCapability(offset, 8, 3, 0, 3, 0x800, false, false));
    }

    @Test
    void guestEnablesAndMasksThroughConfigWrites() {
        ConfigSpace cfg = Devices.full();
        int flags = cfg.msix().orElseThrow().offset() + Msix.FLAGS;
        cfg.write(flags, 2, Msix.FLAGS_ENABLE | Msix.FLAGS_FUNCTION_MASK | 0x7ff);
        MsixCapability msix = cfg.msix().orElseThrow();
        assertThat(msix.enabled()).isTrue();
        assertThat(msix.functionMasked()).isTrue();
        assertThat(msix.tableSize()).as("table size is read-only").isEqualTo(8);

        cfg.write(flags, 2, Msix.FLAGS_ENABLE);
        assertThat(cfg.msix().orElseThrow().functionMasked()).isFalse();
    }

    @Test
    void oneByteAndUnalignedWritesReachTheControlHighByte() {
        // Linux writes the high byte alone; libvfio-user issue #640 was a 2-byte write at control + 1.
        ConfigSpace cfg = Devices.full();
        int offset = cfg.msix().orElseThrow().offset();
        cfg.write(offset + Msix.FLAGS + 1, 1, (Msix.FLAGS_ENABLE | Msix.FLAGS_FUNCTION_MASK) >>> 8);
        assertThat(cfg.msix().orElseThrow().enabled()).isTrue();
        assertThat(cfg.msix().orElseThrow().functionMasked()).isTrue();

        cfg.write(offset + Msix.FLAGS + 1, 2, 0xffff & (Msix.FLAGS_ENABLE >>> 8));
        MsixCapability msix = cfg.msix().orElseThrow();
        assertThat(msix.enabled()).isTrue();
        assertThat(msix.functionMasked()).isFalse();
        assertThat(msix.tableBar()).as("the spanned table register stays").isEqualTo(3);

        cfg.write(offset, 4, 0);
        assertThat(cfg.msix().orElseThrow().enabled()).isFalse();
    }

    @Test
    void tableAndPbaMustFitDeclaredMemoryBars() {
        ConfigSpaceBuilder builder = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(0, 4096)).bar(Bar.io(1, 32));
        assertThatThrownBy(() -> builder.capability(Capabilities.msix(8, 0, 0, 0, 0x1000)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not fit");

        assertThatThrownBy(() -> Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.io(1, 32))
                        .capability(Capabilities.msix(8, 1, 0, 1, 0x80)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a declared memory BAR");
        assertThatThrownBy(() -> Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(0, 4096))
                        .capability(Capabilities.msix(8, 0, 0, 0, 0x40)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
        assertThatThrownBy(() -> Capabilities.msix(8, 0, 4, 0, 0x800)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Capabilities.msix(0, 0, 0, 0, 0x800)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Capabilities.msix(2049, 0, 0, 0, 0x8000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Capabilities.msix(8, 6, 0, 0, 0x800)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void entriesStartMasked() {
        MsixTable table = MsixTable.of(Devices.full().msix().orElseThrow());
        assertThat(table.tableSize()).isEqualTo(8);
        assertThat(table.tableBytes()).isEqualTo(128);
        assertThat(table.pbaBytes()).isEqualTo(8);
        for (int vector = 0; vector < 8; vector++) {
            assertThat(table.isMasked(vector)).isTrue();
            assertThat(table.read(vector * 16 + Msix.ENTRY_VECTOR_CONTROL, 4)).isEqualTo(1);
            assertThat(table.read(vector * 16, 8)).isZero();
        }
    }

    @Test
    void guestProgramsAnEntry() {
        MsixTable table = new MsixTable(4);
        int entry = 2 * Msix.ENTRY_SIZE;
        table.write(entry + Msix.ENTRY_ADDRESS_LO, 4, 0xfee0_2003L);
        table.write(entry + Msix.ENTRY_ADDRESS_HI, 4, 0x0000_0001L);
        table.write(entry + Msix.ENTRY_DATA, 4, 0x0000_4041L);
        table.write(entry + Msix.ENTRY_VECTOR_CONTROL, 4, 0xffff_fffeL);

        assertThat(table.messageAddress(2)).isEqualTo(0x1_fee0_2000L);
        assertThat(table.messageData(2)).isEqualTo(0x4041);
        assertThat(table.isMasked(2)).isFalse();
        assertThat(table.read(entry + Msix.ENTRY_VECTOR_CONTROL, 4)).as("reserved bits stay 0").isZero();
        assertThat(table.entry(2)).isEqualTo(new MsixTable.Entry(0x1_fee0_2000L, 0x4041, false));
        assertThat(table.isMasked(1)).isTrue();

        table.write(entry + Msix.ENTRY_VECTOR_CONTROL, 1, 1);
        assertThat(table.isMasked(2)).isTrue();
    }

    @Test
    void qwordAndByteAccesses() {
        MsixTable table = new MsixTable(2);
        table.write(16, 8, 0x0000_0002_fee0_0000L);
        table.write(24, 8, 0x0000_0000_0000_0031L);
        assertThat(table.read(16, 8)).isEqualTo(0x0000_0002_fee0_0000L);
        assertThat(table.read(18, 2)).isEqualTo(0xfee0);
        assertThat(table.read(19, 1)).isEqualTo(0xfe);
        assertThat(table.isMasked(1)).isFalse();
        assertThat(table.messageData(1)).isEqualTo(0x31);
    }

    @Test
    void pendingBitsAreSetByTheDevice() {
        MsixTable table = new MsixTable(70);
        assertThat(table.pbaBytes()).isEqualTo(16);
        table.setPending(0, true);
        table.setPending(9, true);
        table.setPending(69, true);
        assertThat(table.readPba(0, 8)).isEqualTo(0x201L);
        assertThat(table.readPba(1, 1)).isEqualTo(0x2L);
        assertThat(table.readPba(8, 8)).isEqualTo(1L << 5);
        assertThat(table.isPending(9)).isTrue();
        table.setPending(9, false);
        assertThat(table.isPending(9)).isFalse();
        assertThat(table.readPba(0, 4)).isEqualTo(1L);
    }

    @Test
    void resetMasksEverythingAndClearsPending() {
        MsixTable table = new MsixTable(4);
        table.write(Msix.ENTRY_VECTOR_CONTROL, 4, 0);
        table.write(Msix.ENTRY_DATA, 4, 0x55);
        table.setPending(3, true);
        table.reset();
        assertThat(table.isMasked(0)).isTrue();
        assertThat(table.messageData(0)).isZero();
        assertThat(table.isPending(3)).isFalse();
    }

    @Test
    void outOfRangeAccessesAreRejected() {
        MsixTable table = new MsixTable(4);
        assertThatThrownBy(() -> table.read(64, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.read(60, 8)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.write(0, 3, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.readPba(8, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.isMasked(4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.setPending(-1, true)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MsixTable(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
