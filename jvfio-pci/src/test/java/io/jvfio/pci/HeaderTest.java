package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.pci.PciRegisters.Command;
import io.jvfio.pci.PciRegisters.Status;
import org.junit.jupiter.api.Test;

class HeaderTest {

    private final ConfigSpace cfg = Devices.full();

    @Test
    void identityRegistersHoldDeclaredValues() {
        assertThat(cfg.size()).isEqualTo(4096);
        assertThat(cfg.read(PciRegisters.VENDOR_ID, 2)).isEqualTo(Devices.VENDOR);
        assertThat(cfg.read(PciRegisters.DEVICE_ID, 2)).isEqualTo(Devices.DEVICE);
        assertThat(cfg.read(PciRegisters.VENDOR_ID, 4)).isEqualTo(Devices.DEVICE << 16 | Devices.VENDOR);
        assertThat(cfg.read(PciRegisters.REVISION_ID, 1)).isEqualTo(7);
        assertThat(cfg.read(PciRegisters.REVISION_ID, 4)).isEqualTo(0xff000007);
        assertThat(cfg.read(PciRegisters.CLASS_CODE + 2, 1)).isEqualTo(0xff);
        assertThat(cfg.read(PciRegisters.SUBSYSTEM_VENDOR_ID, 2)).isEqualTo(0x1af4);
        assertThat(cfg.read(PciRegisters.SUBSYSTEM_ID, 2)).isEqualTo(0x1100);
        assertThat(cfg.read(PciRegisters.HEADER_TYPE, 1)).isZero();
        assertThat(cfg.read(PciRegisters.BIST, 1)).isZero();
        assertThat(cfg.read(PciRegisters.INTERRUPT_PIN, 1)).isEqualTo(1);
        assertThat(cfg.read(PciRegisters.CARDBUS_CIS, 4)).isZero();
    }

    @Test
    void identityRegistersIgnoreWrites() {
        cfg.write(PciRegisters.VENDOR_ID, 4, 0xdeadbeef);
        cfg.write(PciRegisters.REVISION_ID, 4, 0x12345678);
        cfg.write(PciRegisters.HEADER_TYPE, 2, 0xffff);
        cfg.write(PciRegisters.SUBSYSTEM_VENDOR_ID, 4, 0);
        cfg.write(PciRegisters.INTERRUPT_PIN, 1, 3);

        assertThat(cfg.read(PciRegisters.VENDOR_ID, 4)).isEqualTo(Devices.DEVICE << 16 | Devices.VENDOR);
        assertThat(cfg.read(PciRegisters.REVISION_ID, 4)).isEqualTo(0xff000007);
        assertThat(cfg.read(PciRegisters.HEADER_TYPE, 2)).isZero();
        assertThat(cfg.read(PciRegisters.SUBSYSTEM_VENDOR_ID, 4)).isEqualTo(0x1100 << 16 | 0x1af4);
        assertThat(cfg.read(PciRegisters.INTERRUPT_PIN, 1)).isEqualTo(1);
    }

    @Test
    void commandRegisterKeepsOnlyItsWritableBits() {
        cfg.write(PciRegisters.COMMAND, 2, 0xffff);

        int writable = Command.IO_SPACE | Command.MEMORY_SPACE | Command.BUS_MASTER
                | Command.PARITY_ERROR_RESPONSE | Command.SERR_ENABLE | Command.INTX_DISABLE;
        assertThat(cfg.commandRegister()).isEqualTo(writable).isEqualTo(0x0547);
        assertThat(cfg.isIoEnabled()).isTrue();
        assertThat(cfg.isMemoryEnabled()).isTrue();
        assertThat(cfg.isBusMasterEnabled()).isTrue();
        assertThat(cfg.isIntxDisabled()).isTrue();

        cfg.write(PciRegisters.COMMAND, 1, Command.MEMORY_SPACE);
        assertThat(cfg.isMemoryEnabled()).isTrue();
        assertThat(cfg.isBusMasterEnabled()).isFalse();
        assertThat(cfg.isIntxDisabled()).as("the high byte was not written").isTrue();
    }

    @Test
    void statusAdvertisesTheCapabilityList() {
        assertThat(cfg.statusRegister()).isEqualTo(Status.CAPABILITY_LIST);
        ConfigSpace bare = Devices.minimal(ConfigSpace.Size.PCI).build();
        assertThat(bare.statusRegister()).isZero();
        assertThat(bare.read(PciRegisters.CAPABILITY_LIST, 1)).isZero();
    }

    @Test
    void interruptStatusIsDeviceDrivenAndReadOnlyToTheGuest() {
        cfg.setInterruptStatus(true);
        assertThat(cfg.interruptStatus()).isTrue();
        assertThat(cfg.statusRegister()).isEqualTo(Status.CAPABILITY_LIST | Status.INTERRUPT);

        cfg.write(PciRegisters.STATUS, 2, 0xffff);
        assertThat(cfg.interruptStatus()).isTrue();

        cfg.setInterruptStatus(false);
        assertThat(cfg.statusRegister()).isEqualTo(Status.CAPABILITY_LIST);
        cfg.write(PciRegisters.STATUS, 2, Status.INTERRUPT);
        assertThat(cfg.interruptStatus()).isFalse();
    }

    @Test
    void statusErrorBitsAreWriteOneToClear() {
        cfg.deviceWrite(PciRegisters.STATUS, 2, Status.CAPABILITY_LIST | Status.ERROR_BITS);
        assertThat(cfg.statusRegister()).isEqualTo(0xf910);

        cfg.write(PciRegisters.STATUS, 2, 0);
        assertThat(cfg.statusRegister()).as("writing 0 changes nothing").isEqualTo(0xf910);

        cfg.write(PciRegisters.STATUS, 2, Status.RECEIVED_MASTER_ABORT | Status.DETECTED_PARITY_ERROR);
        assertThat(cfg.statusRegister()).isEqualTo(0xf910 & ~0xa000);

        // A dword write at the command register carries status in its high half.
        cfg.write(PciRegisters.COMMAND, 4, 0xffff_0000 | Command.MEMORY_SPACE);
        assertThat(cfg.statusRegister()).isEqualTo(Status.CAPABILITY_LIST);
        assertThat(cfg.commandRegister()).isEqualTo(Command.MEMORY_SPACE);
    }

    @Test
    void cacheLineAndInterruptLineAreWritable() {
        cfg.write(PciRegisters.CACHE_LINE_SIZE, 1, 0x10);
        cfg.write(PciRegisters.INTERRUPT_LINE, 2, 0x030b);
        assertThat(cfg.read(PciRegisters.CACHE_LINE_SIZE, 1)).isEqualTo(0x10);
        assertThat(cfg.read(PciRegisters.INTERRUPT_LINE, 1)).isEqualTo(0x0b);
        assertThat(cfg.read(PciRegisters.INTERRUPT_PIN, 1)).isEqualTo(1);
    }

    @Test
    void latencyTimerIsWritableOnlyWithoutPciExpress() {
        cfg.write(PciRegisters.LATENCY_TIMER, 1, 0x40);
        assertThat(cfg.read(PciRegisters.LATENCY_TIMER, 1)).isZero();

        ConfigSpace conventional = Devices.minimal(ConfigSpace.Size.PCI).build();
        conventional.write(PciRegisters.LATENCY_TIMER, 1, 0x40);
        assertThat(conventional.read(PciRegisters.LATENCY_TIMER, 1)).isEqualTo(0x40);
    }

    @Test
    void expansionRomReadsZeroWhenAbsent() {
        cfg.write(PciRegisters.ROM_ADDRESS, 4, 0xffff_ffff);
        assertThat(cfg.read(PciRegisters.ROM_ADDRESS, 4)).isZero();
        assertThat(cfg.romSize()).isZero();
        assertThat(cfg.isRomEnabled()).isFalse();
    }

    @Test
    void expansionRomSizesAndEnables() {
        ConfigSpace withRom = Devices.minimal(ConfigSpace.Size.PCI).expansionRom(64 * 1024).build();
        withRom.write(PciRegisters.ROM_ADDRESS, 4, 0xffff_fffe);
        assertThat(withRom.read(PciRegisters.ROM_ADDRESS, 4)).isEqualTo(0xffff_0000);

        withRom.write(PciRegisters.ROM_ADDRESS, 4, 0xfeb0_0001);
        assertThat(withRom.romAddress()).isEqualTo(0xfeb0_0000L);
        assertThat(withRom.isRomEnabled()).isTrue();
        assertThat(withRom.romSize()).isEqualTo(64 * 1024);
    }

    @Test
    void resetRestoresPowerOnValues() {
        byte[] powerOn = new byte[cfg.size()];
        cfg.read(0, powerOn, 0, powerOn.length);

        cfg.write(PciRegisters.COMMAND, 2, 0xffff);
        cfg.write(PciRegisters.barOffset(0), 4, 0xffff_ffff);
        cfg.write(PciRegisters.INTERRUPT_LINE, 1, 11);
        cfg.setInterruptStatus(true);
        int msixFlags = cfg.msix().orElseThrow().offset() + PciRegisters.Msix.FLAGS;
        cfg.write(msixFlags, 2, PciRegisters.Msix.FLAGS_ENABLE);

        cfg.reset();

        byte[] afterReset = new byte[cfg.size()];
        cfg.read(0, afterReset, 0, afterReset.length);
        assertThat(afterReset).isEqualTo(powerOn);
        assertThat(cfg.msix().orElseThrow().enabled()).isFalse();
        assertThat(cfg.capabilities()).hasSize(5);
    }

    @Test
    void unusedHeaderBytesReadZero() {
        assertThat(cfg.read(PciRegisters.MIN_GNT, 2)).isZero();
    }
}
