package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.pci.PciRegisters.CapabilityHeader;
import io.jvfio.pci.PciRegisters.ExtendedCapabilityHeader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CapabilityChainTest {

    /** Walks the list as a guest would, failing on a loop. */
    static List<Integer> walkStandard(ConfigSpace cfg) {
        List<Integer> ids = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        int pointer = cfg.read(PciRegisters.CAPABILITY_LIST, 1);
        while (pointer != 0) {
            assertThat(pointer).isGreaterThanOrEqualTo(PciRegisters.HEADER_END).isLessThan(0x100);
            assertThat(pointer % 4).isZero();
            assertThat(seen.add(pointer)).as("loop at 0x%x", pointer).isTrue();
            ids.add(cfg.read(pointer + CapabilityHeader.ID, 1));
            pointer = cfg.read(pointer + CapabilityHeader.NEXT, 1);
        }
        return ids;
    }

    static List<Integer> walkExtended(ConfigSpace cfg) {
        List<Integer> ids = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        int pointer = PciRegisters.EXTENDED_CAPABILITIES_START;
        while (pointer != 0) {
            int header = cfg.read(pointer, 4);
            if (header == 0) {
                break;
            }
            assertThat(seen.add(pointer)).as("loop at 0x%x", pointer).isTrue();
            ids.add(header & ExtendedCapabilityHeader.ID_MASK);
            pointer = header >>> ExtendedCapabilityHeader.NEXT_SHIFT;
            assertThat(pointer == 0 || pointer >= 0x100).isTrue();
        }
        return ids;
    }

    @Test
    void standardChainVisitsEveryCapabilityOnceInOrder() {
        ConfigSpace cfg = Devices.full();
        assertThat(walkStandard(cfg)).containsExactly(
                PciCapabilityIds.POWER_MANAGEMENT, PciCapabilityIds.MSI, PciCapabilityIds.MSIX,
                PciCapabilityIds.PCI_EXPRESS, PciCapabilityIds.VENDOR_SPECIFIC);
        assertThat(cfg.read(PciRegisters.CAPABILITY_LIST, 1)).isEqualTo(0x40);
    }

    @Test
    void capabilitiesArePackedDwordAlignedFrom0x40() {
        ConfigSpace cfg = Devices.full();
        // PM 8 bytes, MSI 64-bit masked 24, MSI-X 12, PCIe 60, vendor 3 + 5.
        assertThat(cfg.capabilities()).containsExactly(
                new CapabilityInfo(PciCapabilityIds.POWER_MANAGEMENT, 0x40, 8),
                new CapabilityInfo(PciCapabilityIds.MSI, 0x48, 24),
                new CapabilityInfo(PciCapabilityIds.MSIX, 0x60, 12),
                new CapabilityInfo(PciCapabilityIds.PCI_EXPRESS, 0x6c, 60),
                new CapabilityInfo(PciCapabilityIds.VENDOR_SPECIFIC, 0xa8, 8));
        assertThat(cfg.capability(PciCapabilityIds.MSIX)).map(CapabilityInfo::offset).contains(0x60);
        assertThat(cfg.capability(PciCapabilityIds.AGP)).isEmpty();
    }

    @Test
    void oddLengthCapabilityIsFollowedAtTheNextDword() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI)
                .capability(Capabilities.msi(1, false, false))
                .capability(Capabilities.vendorSpecific(new byte[] {9}))
                .capability(Capabilities.powerManagement())
                .build();
        assertThat(cfg.capabilities()).extracting(CapabilityInfo::offset).containsExactly(0x40, 0x4c, 0x50);
        assertThat(walkStandard(cfg)).hasSize(3);
    }

    @Test
    void capabilityHeadersAreReadOnly() {
        ConfigSpace cfg = Devices.full();
        cfg.write(PciRegisters.CAPABILITY_LIST, 1, 0x80);
        for (CapabilityInfo info : cfg.capabilities()) {
            cfg.write(info.offset(), 2, 0xffff);
        }
        assertThat(walkStandard(cfg)).hasSize(5);
    }

    @Test
    void vendorSpecificLayout() {
        ConfigSpace cfg = Devices.full();
        int offset = cfg.capability(PciCapabilityIds.VENDOR_SPECIFIC).orElseThrow().offset();
        assertThat(cfg.read(offset + PciRegisters.VendorSpecific.LENGTH, 1)).isEqualTo(8);
        byte[] data = new byte[Devices.VENDOR_DATA.length];
        cfg.read(offset + PciRegisters.VendorSpecific.DATA, data, 0, data.length);
        assertThat(data).isEqualTo(Devices.VENDOR_DATA);
        assertThat(cfg.read(offset, 1)).isEqualTo(PciCapabilityIds.VENDOR_SPECIFIC);
        assertThat(cfg.read(offset + 1, 1)).as("last in the list").isZero();
    }

    @Test
    void extendedChainStartsAt0x100AndEnds() {
        ConfigSpace cfg = Devices.full();
        assertThat(walkExtended(cfg)).containsExactly(
                PciCapabilityIds.EXT_DEVICE_SERIAL_NUMBER, PciCapabilityIds.EXT_VENDOR_SPECIFIC);
        assertThat(cfg.read(0x100, 4)).isEqualTo(0x10c << 20 | 1 << 16 | 0x0003);
        assertThat(cfg.read(0x104, 4)).isEqualTo(0x89abcdef);
        assertThat(cfg.read(0x108, 4)).isEqualTo(0x01234567);
        assertThat(cfg.read(0x10c, 4)).isEqualTo(1 << 16 | 0x000b);
        assertThat(cfg.extendedCapability(PciCapabilityIds.EXT_DEVICE_SERIAL_NUMBER))
                .contains(new CapabilityInfo(PciCapabilityIds.EXT_DEVICE_SERIAL_NUMBER, 0x100, 12));
        assertThat(cfg.extendedCapabilities()).hasSize(2);

        cfg.write(0x100, 4, 0);
        cfg.write(0x104, 4, 0);
        assertThat(cfg.read(0x104, 4)).isEqualTo(0x89abcdef);
        cfg.write(0x110 + 4, 1, 0xaa);
        assertThat(cfg.read(0x114, 1)).as("custom writable byte").isEqualTo(0xaa);
        assertThat(walkExtended(cfg)).hasSize(2);
    }

    @Test
    void noExtendedCapabilitiesReadsAZeroHeader() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCIE)
                .capability(Capabilities.pciExpress(PcieDeviceType.ENDPOINT)).build();
        assertThat(cfg.read(0x100, 4)).isZero();
        assertThat(walkExtended(cfg)).isEmpty();
    }

    @Test
    void extendedCapabilityInConventionalSpaceIsRejected() {
        ConfigSpaceBuilder builder = Devices.minimal(ConfigSpace.Size.PCI);
        assertThatThrownBy(() -> builder.extendedCapability(ExtendedCapabilities.deviceSerialNumber(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4096");
    }

    @Test
    void capabilitiesThatDoNotFitAreRejected() {
        ConfigSpaceBuilder builder = Devices.minimal(ConfigSpace.Size.PCI);
        for (int i = 0; i < 3; i++) {
            builder.capability(Capabilities.vendorSpecific(new byte[70]));
        }
        assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0x100");
    }

    @Test
    void duplicateCapabilitiesAreRejectedExceptVendorSpecific() {
        ConfigSpaceBuilder builder = Devices.minimal(ConfigSpace.Size.PCI).capability(Capabilities.msi(1, false, false));
        assertThatThrownBy(() -> builder.capability(Capabilities.msi(2, true, false)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("twice");
        builder.capability(Capabilities.vendorSpecific(new byte[1])).capability(Capabilities.vendorSpecific(new byte[2]));
        assertThat(walkStandard(builder.build())).hasSize(3);
    }

    @Test
    void customCapabilityHonoursItsMask() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI)
                .capability(Capability.custom(PciCapabilityIds.SATA, new byte[] {1, 2, 3, 4}, new byte[] {0, 0x0f, 0, 0}))
                .build();
        cfg.write(0x42, 4, 0xffff_ffff);
        assertThat(cfg.read(0x42, 4)).isEqualTo(0x04030f01);
    }
}
