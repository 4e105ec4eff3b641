package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.pci.PciRegisters.PciExpress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PciExpressTest {

    private static ConfigSpace withPcie(PcieDeviceType type, boolean flr) {
        return Devices.minimal(ConfigSpace.Size.PCIE).capability(Capabilities.pciExpress(type, flr)).build();
    }

    private static int base(ConfigSpace cfg) {
        return cfg.capability(PciCapabilityIds.PCI_EXPRESS).orElseThrow().offset();
    }

    @Test
    void endpointRegisters() {
        ConfigSpace cfg = withPcie(PcieDeviceType.ENDPOINT, false);
        int base = base(cfg);
        assertThat(cfg.capability(PciCapabilityIds.PCI_EXPRESS).orElseThrow().length()).isEqualTo(60);
        assertThat(cfg.read(base + PciExpress.FLAGS, 2)).isEqualTo(0x0002);
        assertThat(cfg.read(base + PciExpress.DEVCAP, 4) & PciExpress.DEVCAP_FLR).isZero();
        assertThat(cfg.read(base + PciExpress.DEVCAP, 4) & PciExpress.DEVCAP_MAX_PAYLOAD_MASK).isZero();
        assertThat(cfg.read(base + PciExpress.DEVCTL, 2)).isEqualTo(0x2810);
        assertThat(cfg.read(base + PciExpress.LNKCAP, 4) & 0x3ff).isEqualTo(0x11);
        assertThat(cfg.read(base + PciExpress.LNKSTA, 2)).isEqualTo(0x11);
        assertThat(cfg.read(base + PciExpress.LNKCAP2, 4)).isEqualTo(PciExpress.LNKCAP2_SPEED_2_5GT);
        assertThat(cfg.read(base + PciExpress.DEVCAP2, 4)).isEqualTo(PciExpress.DEVCAP2_COMPLETION_TIMEOUT_DISABLE);
    }

    @Test
    void rootComplexIntegratedEndpointHasNoLink() {
        ConfigSpace cfg = withPcie(PcieDeviceType.ROOT_COMPLEX_INTEGRATED_ENDPOINT, false);
        int base = base(cfg);
        assertThat(cfg.read(base + PciExpress.FLAGS, 2)).isEqualTo(0x0092);
        assertThat(cfg.read(base + PciExpress.LNKCAP, 4)).isZero();
        assertThat(cfg.read(base + PciExpress.LNKSTA, 2)).isZero();
        cfg.write(base + PciExpress.LNKCTL, 2, 0xffff);
        assertThat(cfg.read(base + PciExpress.LNKCTL, 2)).isZero();
    }

    @Test
    void deviceControlIsMostlyWritable() {
        ConfigSpace cfg = withPcie(PcieDeviceType.LEGACY_ENDPOINT, false);
        int devctl = base(cfg) + PciExpress.DEVCTL;
        cfg.write(devctl, 2, 0xffff);
        assertThat(cfg.read(devctl, 2)).isEqualTo(0x78ff);
        cfg.write(devctl, 2, 0x1 << 5 | 0x5 << 12);
        assertThat(cfg.read(devctl, 2)).isEqualTo(0x5020);
    }

    @Test
    void deviceStatusErrorsAreWriteOneToClear() {
        ConfigSpace cfg = withPcie(PcieDeviceType.ENDPOINT, false);
        int devsta = base(cfg) + PciExpress.DEVSTA;
        cfg.deviceWrite(devsta, 2, PciExpress.DEVSTA_ERROR_BITS | PciExpress.DEVSTA_TRANSACTIONS_PENDING);
        cfg.write(devsta, 2, PciExpress.DEVSTA_FATAL_ERROR | PciExpress.DEVSTA_TRANSACTIONS_PENDING);
        assertThat(cfg.read(devsta, 2)).isEqualTo(0x2b);
    }

    @Test
    void initiateFlrIsSeenByListenersAndReadsZero() {
        ConfigSpace cfg = withPcie(PcieDeviceType.ENDPOINT, true);
        int devctl = base(cfg) + PciExpress.DEVCTL;
        assertThat(cfg.read(base(cfg) + PciExpress.DEVCAP, 4) & PciExpress.DEVCAP_FLR).isNotZero();
        List<Integer> seen = new ArrayList<>();
        cfg.addWriteListener(devctl, 2, (offset, size, oldValue, newValue) -> seen.add(newValue));

        cfg.write(devctl, 2, 0x2810 | PciExpress.DEVCTL_INITIATE_FLR);

        assertThat(seen).containsExactly(0x2810 | PciExpress.DEVCTL_INITIATE_FLR);
        assertThat(cfg.read(devctl, 2)).isEqualTo(0x2810);
    }

    @Test
    void withoutFlrTheInitiateBitIsReadOnly() {
        ConfigSpace cfg = withPcie(PcieDeviceType.ENDPOINT, false);
        int devctl = base(cfg) + PciExpress.DEVCTL;
        List<Integer> seen = new ArrayList<>();
        cfg.addWriteListener(devctl, 2, (offset, size, oldValue, newValue) -> seen.add(newValue));
        cfg.write(devctl, 2, PciExpress.DEVCTL_INITIATE_FLR);
        assertThat(seen).containsExactly(0);
    }

    @Test
    void powerManagementAcceptsOnlyD0AndD3hot() {
        ConfigSpace cfg = Devices.full();
        int base = cfg.capability(PciCapabilityIds.POWER_MANAGEMENT).orElseThrow().offset();
        int pmcsr = base + PciRegisters.PowerManagement.PMCSR;
        assertThat(cfg.read(base + PciRegisters.PowerManagement.PMC, 2)).isEqualTo(3);

        cfg.write(pmcsr, 2, PciRegisters.PowerManagement.STATE_D3_HOT);
        assertThat(cfg.read(pmcsr, 2)).isEqualTo(3);
        cfg.write(pmcsr, 2, PciRegisters.PowerManagement.STATE_D1);
        assertThat(cfg.read(pmcsr, 2)).as("unsupported state ignored").isEqualTo(3);
        cfg.write(pmcsr, 2, 0xfffc);
        assertThat(cfg.read(pmcsr, 2)).as("no PME: only the state bits are writable").isZero();
        cfg.write(pmcsr, 1, PciRegisters.PowerManagement.STATE_D2);
        assertThat(cfg.read(pmcsr, 2)).isZero();
    }

    @Test
    void noSoftResetIsDeclarable() {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).capability(Capabilities.powerManagement(true)).build();
        assertThat(cfg.read(0x40 + PciRegisters.PowerManagement.PMCSR, 2))
                .isEqualTo(PciRegisters.PowerManagement.PMCSR_NO_SOFT_RESET);
    }
}
