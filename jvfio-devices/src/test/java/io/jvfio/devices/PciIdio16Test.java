package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPIO card driven through a real vfio-user socket by the jvfio client, as a driver would.
 * Variants of the card subclass this test: they must pass all of it unchanged.
 */
class PciIdio16Test {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX;

    @TempDir
    Path dir;
    PciIdio16 card;
    VfioUserServer server;
    private int fdsBefore;

    @BeforeEach
    void serve() throws Exception {
        fdsBefore = Fd.openFdCountOfProcess();
        card = newCard();
        server = VfioUserServer.bind(dir.resolve("gpio.sock"), card, ServerOptions.defaults());
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
    }

    PciIdio16 newCard() {
        return new PciIdio16();
    }

    VfioUserClient connect() throws Exception {
        return VfioUserClient.connect(server.socketPath().orElseThrow());
    }

    @Test
    void describesItselfAsThePciCardLinuxExpects() throws Exception {
        try (VfioUserClient client = connect()) {
            DeviceInfo info = client.deviceInfo();
            assertThat(info.flags() & Vfio.DEVICE_FLAGS_PCI).isNotZero();
            assertThat(info.flags() & Vfio.DEVICE_FLAGS_RESET).isNotZero();
            assertThat(info.numRegions()).isGreaterThanOrEqualTo(Vfio.PCI_NUM_REGIONS);
            assertThat(info.numIrqs()).isEqualTo(Vfio.PCI_NUM_IRQS);
            try (RegionDescription bar2 = client.regionInfo(BAR2); RegionDescription bar0 = client.regionInfo(0);
                 RegionDescription config = client.regionInfo(Vfio.PCI_CONFIG_REGION_INDEX)) {
                assertThat(bar2.size()).isEqualTo(0x100);
                assertThat(bar0.size()).isZero();
                assertThat(config.size()).isEqualTo(256);
            }
            int ids = client.read32(Vfio.PCI_CONFIG_REGION_INDEX, 0);
            assertThat(ids).isEqualTo(0x0dc8_494f);
            assertThat(client.read8(Vfio.PCI_CONFIG_REGION_INDEX, 0x3d)).as("interrupt pin A").isEqualTo(1);
            IrqInfo intx = client.irqInfo(Vfio.PCI_INTX_IRQ_INDEX);
            assertThat(intx.count()).isEqualTo(1);
            assertThat(intx.flags() & Vfio.IRQ_INFO_AUTOMASKED).isNotZero();
            assertThat(client.irqInfo(Vfio.PCI_MSIX_IRQ_INDEX).count()).isZero();
        }
    }

    @Test
    void outputsWrittenByTheDriverReachTheDevice() throws Exception {
        try (VfioUserClient client = connect()) {
            client.write8(BAR2, PciIdio16.OUT_0_7, 0x5a);
            client.write8(BAR2, PciIdio16.OUT_8_15, 0xc3);
            assertThat(card.outputs()).isEqualTo(0xc35a);
            assertThat(client.read8(BAR2, PciIdio16.OUT_0_7)).isEqualTo(0x5a);
            assertThat(client.read8(BAR2, PciIdio16.OUT_8_15)).isEqualTo(0xc3);
        }
    }

    @Test
    void inputsSetFromJavaAreReadByTheDriver() throws Exception {
        try (VfioUserClient client = connect()) {
            card.setInputs(0xbeef);
            assertThat(client.read8(BAR2, PciIdio16.IN_0_7)).isEqualTo(0xef);
            assertThat(client.read8(BAR2, PciIdio16.IN_8_15)).isEqualTo(0xbe);
        }
    }

    @Test
    void anInputChangeRaisesIntxWhichStaysMaskedUntilUnmask() throws Exception {
        try (VfioUserClient client = connect(); EventFd intx = EventFd.create()) {
            client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            client.read8(BAR2, PciIdio16.IRQ_CONTROL);           // reading enables the interrupt
            card.setInputs(0x0001);
            assertThat(intx.await(Duration.ofSeconds(5))).as("INTx fired").isTrue();
            assertThat(intx.read()).isEqualTo(1);
            assertThat(client.read8(BAR2, PciIdio16.IRQ_STATUS) & PciIdio16.IRQ_PENDING).isNotZero();

            // Still asserted at EOI: the unmask fires the line again, as a level-triggered line must.
            client.unmaskIntx();
            assertThat(intx.await(Duration.ofSeconds(5))).as("INTx re-fired at unmask").isTrue();
            intx.read();

            client.write8(BAR2, PciIdio16.IN_0_7, 0);              // clear interrupt
            assertThat(client.read8(BAR2, PciIdio16.IRQ_STATUS) & PciIdio16.IRQ_PENDING).isZero();
            client.unmaskIntx();
            assertThat(intx.await(Duration.ofMillis(200))).as("no interrupt once cleared").isFalse();
        }
    }

    @Test
    void noInterruptWhileTheDriverKeepsItDisabled() throws Exception {
        try (VfioUserClient client = connect(); EventFd intx = EventFd.create()) {
            client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            client.write8(BAR2, PciIdio16.IRQ_CONTROL, 0);        // writing disables it
            card.setInputs(0xffff);
            assertThat(intx.await(Duration.ofMillis(200))).isFalse();
        }
    }

    @Test
    void deviceStateSurvivesAReconnectButTheEventfdsDoNot() throws Exception {
        try (VfioUserClient client = connect(); EventFd intx = EventFd.create()) {
            client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            client.write8(BAR2, PciIdio16.OUT_0_7, 0x81);
        }
        awaitNoClient();
        try (VfioUserClient again = connect()) {
            assertThat(again.read8(BAR2, PciIdio16.OUT_0_7)).isEqualTo(0x81);
            assertThat(card.interrupts().isWired(Vfio.PCI_INTX_IRQ_INDEX, 0)).isFalse();
        }
        assertThat(server.stats().connections()).isEqualTo(2);
    }

    @Test
    void resetRestoresPowerOnState() throws Exception {
        try (VfioUserClient client = connect()) {
            client.write8(BAR2, PciIdio16.OUT_0_7, 0xff);
            client.write32(Vfio.PCI_CONFIG_REGION_INDEX, 0x04, 0x0002);  // memory space enable
            client.reset();
            assertThat(card.outputs()).isZero();
            assertThat(client.read32(Vfio.PCI_CONFIG_REGION_INDEX, 0x04) & 0xffff).isZero();
        }
    }

    private void awaitNoClient() throws InterruptedException {
        for (int i = 0; i < 500 && server.hasClient(); i++) {
            Thread.sleep(10);
        }
        assertThat(server.hasClient()).isFalse();
    }
}
