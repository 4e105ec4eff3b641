package com.example.ledpanel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The panel in a Linux guest under QEMU (jvfio-qemu's harness: TCG, a Debian kernel, busybox).
 * No driver knows the panel, so the guest finds it with lspci, enables it through sysfs and reads
 * and writes its registers with devmem. Runs where jvfio's guest toolchain is provisioned
 * ({@code scripts/provision-guest.sh} in jvfio's checkout) and as root; skipped elsewhere.
 */
class LedPanelGuestTest {
    /** What the guest runs: exit 0 passes, each {@code JVFIO-RESULT:} line is collected. */
    static final String GUEST_SCRIPT = """
            set -e
            slot=$(lspci -n -d 1234:11ed | cut -d' ' -f1)
            [ -n "$slot" ] || { echo "no LED panel (1234:11ed) in the guest"; exit 1; }
            lspci -nn -vv -s "$slot"
            echo 1 > "/sys/bus/pci/devices/0000:$slot/enable"      # memory decoding on
            bar=$(cut -d' ' -f1 "/sys/bus/pci/devices/0000:$slot/resource" | head -1)
            echo "JVFIO-RESULT: id $(devmem "$bar" 32)"
            devmem $((bar + 4)) 32 0x81                             # LEDS: LEDs 0 and 7 on
            echo "JVFIO-RESULT: leds $(devmem $((bar + 4)) 32)"
            """;

    @TempDir
    Path dir;

    @Test
    void aLinuxGuestFindsThePanelAndLightsItsLeds() throws Exception {
        assumeTrue(GuestToolchain.isAvailable(), GuestToolchain::unavailableReason);
        GuestToolchain toolchain = GuestToolchain.locate();
        Initramfs initramfs = Initramfs.builder(toolchain)
                .program("/usr/bin/lspci")
                .script(GUEST_SCRIPT)
                .build(dir.resolve("initramfs.img"));
        LedPanel panel = new LedPanel();
        try (QemuGuest guest = QemuGuest.prepare(toolchain, QemuGuest.options()
                .initramfs(initramfs)
                .sharedMemory(true)                                  // guest RAM the panel can map for DMA
                .vfioUserDevice(Path.of("led.sock"))                 // relative: inside guest.workDir()
                .timeout(Duration.ofMinutes(4)));
             VfioUserServer server = VfioUserServer.bind(guest.workDir().resolve("led.sock"), panel, ServerOptions.defaults())) {
            server.start();                                          // listening before QEMU connects
            guest.launch();
            GuestResult result = guest.awaitExit();

            assertTrue(result.passed(), result::describe);
            assertEquals(List.of("id 0x4C454431", "leds 0x00000081"), result.results());
            assertEquals(0x81, panel.leds());
        }
    }
}
