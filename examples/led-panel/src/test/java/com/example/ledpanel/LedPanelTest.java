package com.example.ledpanel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jvfio.client.DmaBuffer;
import io.jvfio.client.Interrupts;
import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The panel served on a real socket and driven with jvfio's client, the way a VMM and a driver would. */
class LedPanelTest {
    private static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;
    private static final int BAR = LedPanel.BAR;
    private static final int MSIX_CAPABILITY_ID = 0x11, CAPABILITIES_POINTER = 0x34, MSIX_ENABLE = 0x8000;
    /** Generous: an interrupt arrives in microseconds; this only bounds a broken build. */
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private final LedPanel panel = new LedPanel();
    private VfioUserServer server;
    private VfioUserClient client;

    @BeforeEach
    void serveAndConnect() throws Exception {
        server = VfioUserServer.bind(dir.resolve("led.sock"), panel, ServerOptions.defaults());
        server.start();
        client = VfioUserClient.connect(dir.resolve("led.sock"));
    }

    @AfterEach
    void disconnectAndStop() {
        client.close();
        server.close();
    }

    @Test
    void configSpaceSaysWhatTheDeviceIs() throws Exception {
        assertEquals(LedPanel.DEVICE_ID << 16 | LedPanel.VENDOR_ID, client.read32(CONFIG, 0x00));
        assertEquals(LedPanel.CLASS_OTHER_SYSTEM_PERIPHERAL, client.read32(CONFIG, 0x08) >>> 8);
        try (RegionDescription bar = client.regionInfo(BAR)) {
            assertEquals(LedPanel.BAR_SIZE, bar.size());
        }
        assertEquals(LedPanel.VECTORS, client.irqInfo(Vfio.PCI_MSIX_IRQ_INDEX).count());
        assertEquals(LedPanel.ID_VALUE, client.read32(BAR, LedPanel.ID));
    }

    @Test
    void theDriverLightsTheLeds() throws Exception {
        List<Integer> seen = new CopyOnWriteArrayList<>();
        panel.onLedsChanged(seen::add);

        client.write32(BAR, LedPanel.LEDS, 0x81);

        assertEquals(0x81, panel.leds());
        assertEquals(0x81, client.read32(BAR, LedPanel.LEDS));
        assertEquals(List.of(0x81), seen);
    }

    @Test
    void pressingTheButtonRaisesMsixVectorZero() throws Exception {
        try (Interrupts msix = enableMsix()) {
            panel.pressButton();

            assertTrue(msix.await(LedPanel.BUTTON_VECTOR, PATIENCE), "the button's interrupt arrived on its eventfd");
            assertEquals(1, client.read32(BAR, LedPanel.BUTTON));
            assertEquals(LedPanel.BUTTON_PRESSED, client.read32(BAR, LedPanel.IRQ_STATUS));
            client.write32(BAR, LedPanel.IRQ_STATUS, LedPanel.BUTTON_PRESSED);
            assertEquals(0, client.read32(BAR, LedPanel.IRQ_STATUS));
        }
    }

    @Test
    void aPatternInTheDriversMemoryIsFetchedByDmaAndPlayed() throws Exception {
        List<Integer> seen = new CopyOnWriteArrayList<>();
        panel.onLedsChanged(seen::add);
        byte[] pattern = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, (byte) 0x80};
        long iova = 0x10_0000;
        try (Interrupts msix = enableMsix(); DmaBuffer memory = client.allocateDma(iova, 4096)) {
            MemorySegment.copy(MemorySegment.ofArray(pattern), 0, memory.segment(), 0, pattern.length);
            client.write32(BAR, LedPanel.PATTERN_ADDRESS_LOW, (int) iova);
            client.write32(BAR, LedPanel.PATTERN_ADDRESS_HIGH, (int) (iova >>> 32));
            client.write32(BAR, LedPanel.PATTERN_LENGTH, pattern.length);
            client.write32(BAR, LedPanel.PATTERN_GO, 1);

            assertTrue(msix.await(LedPanel.PATTERN_VECTOR, PATIENCE), "the pattern's interrupt arrived");
            assertEquals(LedPanel.PATTERN_DONE, client.read32(BAR, LedPanel.IRQ_STATUS));
            assertEquals(List.of(0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80), seen);
            assertEquals(0x80, client.read32(BAR, LedPanel.LEDS));
        }
    }

    @Test
    void aPatternWhereNoMemoryIsMappedIsAnError() throws Exception {
        try (Interrupts msix = enableMsix()) {
            client.write32(BAR, LedPanel.PATTERN_ADDRESS_LOW, 0x20_0000);
            client.write32(BAR, LedPanel.PATTERN_LENGTH, 8);
            client.write32(BAR, LedPanel.PATTERN_GO, 1);

            assertTrue(msix.await(LedPanel.PATTERN_VECTOR, PATIENCE), "the pattern's interrupt arrived");
            assertEquals(LedPanel.PATTERN_DONE | LedPanel.PATTERN_ERROR, client.read32(BAR, LedPanel.IRQ_STATUS));
        }
    }

    @Test
    void resetTurnsTheLedsOff() throws Exception {
        client.write32(BAR, LedPanel.LEDS, 0xff);
        client.reset();
        assertEquals(0, client.read32(BAR, LedPanel.LEDS));
    }

    /** What a VMM does when its guest enables MSI-X: the enable bit in the capability, one eventfd per vector. */
    private Interrupts enableMsix() throws Exception {
        for (int at = client.read8(CONFIG, CAPABILITIES_POINTER); at != 0; at = client.read8(CONFIG, at + 1)) {
            if (client.read8(CONFIG, at) == MSIX_CAPABILITY_ID) {
                client.write16(CONFIG, at + 2, MSIX_ENABLE);
            }
        }
        return client.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, LedPanel.VECTORS);
    }
}
