package io.jvfio.cli.lspci;

import static io.jvfio.cli.Cli.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.Cli.Run;

import io.jvfio.devices.PciIdio16;
import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.pci.ExtendedCapabilities;
import io.jvfio.pci.PcieDeviceType;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.PciDevice;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.OpenFds;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jvfio lspci} against real servers: the GPIO card and a device with every modelled capability. */
class LspciCommandTest {
    /** A PCI Express function with PM, MSI, MSI-X, Express, vendor-specific and a serial number. */
    static final class CapDevice extends PciDevice {
        static final long SERIAL = 0x0123_4567_89ab_cdefL;

        CapDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCIE)
                    .vendorId(0x1af4).deviceId(0x10f0)
                    .subsystemVendorId(0x1af4).subsystemId(0x0001)
                    .classCode(0x020000)
                    .revision(0x01)
                    .interruptPin(1)
                    .capability(Capabilities.powerManagement())
                    .capability(Capabilities.msi(4, true, true))
                    .capability(Capabilities.msix(8, 0, 0, 0, 0x800))
                    .capability(Capabilities.pciExpress(PcieDeviceType.ENDPOINT))
                    .capability(Capabilities.vendorSpecific(new byte[] {1, 2, 3, 4, 5}))
                    .extendedCapability(ExtendedCapabilities.deviceSerialNumber(SERIAL))
                    .bar(Bar.memory32(0, 0x1000))
                    .bar(Bar.memory64(2, 0x4000, true))
                    .build());
            RegionHandler zeros = new RegionHandler() {
                @Override
                public void read(long offset, MemorySegment dst) {
                    dst.fill((byte) 0);
                }

                @Override
                public void write(long offset, MemorySegment src) {}
            };
            bar(0, zeros);
            bar(2, zeros);
        }
    }

    @TempDir
    Path dir;
    private final List<VfioUserServer> servers = new ArrayList<>();
    private OpenFds fdsBefore;

    /** One full round first, so that lazily opened JDK files (jars, random sources) are not counted as leaks. */
    @BeforeAll
    static void warmUp(@TempDir Path warm) throws Exception {
        try (VfioUserServer server = VfioUserServer.bind(warm.resolve("warm.sock"), new CapDevice(), ServerOptions.defaults())) {
            server.start();
            assertThat(run("lspci", "-vv", "-xxxx", warm.resolve("warm.sock").toString()).exit()).isZero();
        }
    }

    @BeforeEach
    void countFds() {
        fdsBefore = OpenFds.snapshot();
    }

    @AfterEach
    void stop() throws Exception {
        servers.forEach(VfioUserServer::close);
        fdsBefore.assertNoneLeaked(Duration.ZERO);
    }

    private Path serve(VfioDevice device, String name) throws Exception {
        VfioUserServer server = VfioUserServer.bind(dir.resolve(name), device, ServerOptions.defaults());
        servers.add(server);
        server.start();
        return server.socketPath().orElseThrow();
    }

    @Test
    void gpioCardLooksLikeTheGuestsLspci() throws Exception {
        Path socket = serve(new PciIdio16(), "gpio.sock");
        Run r = run("lspci", "-vv", socket.toString());
        System.out.println(r.out());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("00:00.0 Class ff00: Device 494f:0dc8\n")
                .contains("\tSubsystem: Device 494f:0dc8\n")
                .contains("\tControl: I/O- Mem- BusMaster- SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx-\n")
                .contains("\tStatus: Cap- 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-\n")
                .contains("\tInterrupt: pin A\n")
                .contains("\tRegion 2: Memory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=256]\n")
                .doesNotContain("Region 0:", "Capabilities:", "routed to IRQ");
        assertThat(r.out()).contains("vfio-user device at " + socket)
                .contains("\tDevice info: flags=RESET,PCI num_regions=9 num_irqs=5\n")
                .contains("\tRegion 2 BAR2: size=256 flags=R,W offset=0x0\n")
                .contains("\tRegion 7 CONFIG: size=256 flags=R,W")
                .contains("\tIRQ 0 INTx: count=1 flags=EVENTFD")
                .contains("\tIRQ 2 MSI-X: count=0")
                .contains("\tServer: protocol 0.")
                .contains("\tServer capabilities: {\"capabilities\":");
    }

    @Test
    void numericModesAndSlot() throws Exception {
        Path socket = serve(new PciIdio16(), "gpio.sock");
        Run nn = run("lspci", "-nn", "-v", "--slot", "00:01.0", "--lspci-only", socket.toString());
        assertThat(nn.exit()).as(nn.err()).isZero();
        assertThat(nn.out()).startsWith("00:01.0 Class [ff00]: Device [494f:0dc8]\n")
                .contains("\tSubsystem: Device [494f:0dc8]\n")
                .contains("\tFlags: fast devsel\n")
                .contains("\tMemory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=256]\n")
                .doesNotContain("vfio-user device at");
        Run n = run("lspci", "-n", "--lspci-only", socket.toString());
        assertThat(n.out()).isEqualTo("00:00.0 ff00: 494f:0dc8\n");
    }

    @Test
    void programmedBarAndCommandShowAsTheGuestSawThem() throws Exception {
        PciIdio16 card = new PciIdio16();
        card.config().write(0x18, 4, 0xfebfe000);
        card.config().write(0x04, 2, 0x0103);
        Path socket = serve(card, "gpio.sock");
        Run r = run("lspci", "-vv", "--lspci-only", socket.toString());
        assertThat(r.out()).contains("\tControl: I/O+ Mem+ BusMaster- SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR+ FastB2B- DisINTx-\n")
                .contains("\tRegion 2: Memory at febfe000 (32-bit, non-prefetchable) [size=256]\n");
    }

    @Test
    void everyCapabilityOfThePcieTestDevice() throws Exception {
        Path socket = serve(new CapDevice(), "cap.sock");
        Run r = run("lspci", "-vv", socket.toString());
        System.out.println(r.out());
        assertThat(r.exit()).as(r.err()).isZero();
        String out = r.out();
        assertThat(out).startsWith("00:00.0 Ethernet controller: Device 1af4:10f0 (rev 01)\n")
                .contains("\tStatus: Cap+ ")
                .contains("\tRegion 0: Memory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=4K]\n")
                .contains("\tRegion 2: Memory at <unassigned> (64-bit, prefetchable) [disabled] [size=16K]\n")
                .containsPattern("\tCapabilities: \\[[0-9a-f]{2}\\] Power Management version 3\n")
                .contains("\t\tFlags: PMEClk- DSI- D1- D2- AuxCurrent=0mA PME(D0-,D1-,D2-,D3hot-,D3cold-)\n")
                .contains("\t\tStatus: D0 NoSoftRst- PME-Enable- DSel=0 DScale=0 PME-\n")
                .containsPattern("\tCapabilities: \\[[0-9a-f]{2}\\] MSI: Enable- Count=1/4 Maskable\\+ 64bit\\+\n")
                .contains("\t\tAddress: 0000000000000000  Data: 0000\n")
                .contains("\t\tMasking: 00000000  Pending: 00000000\n")
                .containsPattern("\tCapabilities: \\[[0-9a-f]{2}\\] MSI-X: Enable- Count=8 Masked-\n")
                .contains("\t\tVector table: BAR=0 offset=00000000\n")
                .contains("\t\tPBA: BAR=0 offset=00000800\n")
                .containsPattern("\tCapabilities: \\[[0-9a-f]{2}\\] Express \\(v2\\) Endpoint, MSI 00\n")
                .contains("\t\tDevCap:\tMaxPayload 128 bytes, PhantFunc 0, Latency L0s <64ns, L1 <1us\n")
                .contains("\t\t\tExtTag- AttnBtn- AttnInd- PwrInd- RBE+ FLReset- SlotPowerLimit 0W\n")
                .contains("\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-\n")
                .contains("\t\t\tRlxdOrd+ ExtTag- PhantFunc- AuxPwr- NoSnoop+\n")
                .contains("\t\t\tMaxPayload 128 bytes, MaxReadReq 512 bytes\n")
                .contains("\t\tDevSta:\tCorrErr- NonFatalErr- FatalErr- UnsupReq- AuxPwr- TransPend-\n")
                .contains("\t\tLnkCap:\tPort #0, Speed 2.5GT/s, Width x1, ASPM not supported\n")
                .contains("\t\tLnkSta:\tSpeed 2.5GT/s (ok), Width x1 (ok)\n")
                .contains("\t\tDevCap2: Completion Timeout: Not Supported, TimeoutDis+")
                .contains("\t\tLnkCap2: Supported Link Speeds: 2.5GT/s,")
                .containsPattern("\tCapabilities: \\[[0-9a-f]{2}\\] Vendor Specific Information: Len=08 <\\?>\n")
                .contains("\tCapabilities: [100 v1] Device Serial Number 01-23-45-67-89-ab-cd-ef\n")
                .contains("\tRegion 0 BAR0: size=0x1000 (4096) flags=R,W")
                .contains("\tRegion 7 CONFIG: size=0x1000 (4096) flags=R,W");
        // Five standard capabilities, in list order, plus the extended one.
        assertThat(out.lines().filter(l -> l.startsWith("\tCapabilities: ")).toList()).hasSize(6);

        Run v = run("lspci", "-v", "--lspci-only", socket.toString());
        assertThat(v.out()).containsPattern("\\] Express Endpoint, MSI 00\n")
                .contains("\tCapabilities: [100] Device Serial Number 01-23-45-67-89-ab-cd-ef\n")
                .doesNotContain("Vector table", "DevCap:");
    }

    @Test
    void hexDumpsMatchTheConfigBytes() throws Exception {
        CapDevice device = new CapDevice();
        Path socket = serve(device, "cap.sock");
        byte[] config = new byte[4096];
        device.config().read(0, config, 0, config.length);
        HexFormat hex = HexFormat.ofDelimiter(" ");

        Run x = run("lspci", "-x", "--lspci-only", socket.toString());
        List<String> lines = x.out().lines().toList();
        assertThat(lines.get(0)).startsWith("00:00.0 Ethernet controller");
        assertThat(lines.subList(1, 5)).containsExactly(
                "00: " + hex.formatHex(config, 0, 16), "10: " + hex.formatHex(config, 16, 32),
                "20: " + hex.formatHex(config, 32, 48), "30: " + hex.formatHex(config, 48, 64));
        assertThat(lines).hasSize(6);
        assertThat(lines.get(5)).isEmpty();

        Run xxx = run("lspci", "-xxx", "--lspci-only", socket.toString());
        assertThat(xxx.out().lines().filter(l -> l.matches("[0-9a-f]{2}: .*"))).hasSize(16);
        assertThat(xxx.out()).contains("f0: " + hex.formatHex(config, 0xf0, 0x100) + "\n");

        Run xxxx = run("lspci", "-xxxx", "--lspci-only", socket.toString());
        assertThat(xxxx.out().lines().filter(l -> l.matches("[0-9a-f]{2,3}: .*"))).hasSize(256);
        assertThat(xxxx.out()).contains("100: " + hex.formatHex(config, 0x100, 0x110) + "\n")
                .contains("ff0: " + hex.formatHex(config, 0xff0, 0x1000) + "\n");
    }

    @Test
    void unreachableSocketIsOneClearLine() {
        Path missing = dir.resolve("x.sock");
        Run r = run("lspci", missing.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("jvfio: connect " + missing + ": ENOENT (No such file or directory)" + System.lineSeparator());
    }

    @Test
    void badSlotIsRefused() throws Exception {
        Run r = run("lspci", "--slot", "nonsense", dir.resolve("x.sock").toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("jvfio: --slot must look like");
    }

    @Test
    void aPciAddressGoesToTheKernelBackendWhichNamesAMissingDevice() {
        Run r = run("lspci", "-vv", "ffff:ff:1f.7");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("jvfio: no PCI device ffff:ff:1f.7");
    }

    @Test
    void helpExplainsTheOptions() {
        Run r = run("lspci", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("SOCKET", "-vv", "-nn", "-xxx", "--slot");
    }
}
