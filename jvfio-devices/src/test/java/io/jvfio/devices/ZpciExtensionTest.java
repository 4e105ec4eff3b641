package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.Fd;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.ZpciCaps;
import io.jvfio.server.PciDevice;
import io.jvfio.server.Platform;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.zpci.ZpciConfig;
import io.jvfio.server.zpci.ZpciExtension;
import io.jvfio.server.zpci.ZpciInterpretation;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The s390 zPCI platform extension reaches every device — the GPIO card, its variant and a bare
 * test device — without their code mentioning it, and tells a client without a hypervisor link
 * whether interpretation is present.
 */
class ZpciExtensionTest {
    static final ZpciConfig CONFIG = ZpciConfig.parse(
            "pchid=0x2a,vfn=3,fmb_length=64,pft=0x0a,gid=7,start_dma=0x100000000,end_dma=0xfffffffffff,"
                    + "dasm=0xffffffffffffff,msi_addr=0xfe00000000000000,refresh=true,mui=100,noi=64,maxstbl=2048,"
                    + "version=1,util=JVFIO GPIO,pfip=0a0b0c");

    /** What an embedding VMM able to interpret zPCI instructions would hand the server. */
    record Interpreting(int functionHandle, int interpretedMaxStoreBlockLength) implements ZpciInterpretation {}

    static final class BareDevice extends PciDevice {
        BareDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1af4).deviceId(0x10f0)
                    .bar(Bar.memory32(0, 0x1000)).build());
        }
    }

    static Stream<Arguments> devices() {
        return Stream.of(Arguments.of("GPIO card", (Supplier<VfioDevice>) PciIdio16::new),
                Arguments.of("GPIO variant", (Supplier<VfioDevice>) PciIdio16Diagnostics::new),
                Arguments.of("bare test device", (Supplier<VfioDevice>) BareDevice::new));
    }

    @TempDir
    Path dir;
    private int fdsBefore;
    private final List<VfioUserServer> servers = new ArrayList<>();

    @BeforeEach
    void countFds() {
        fdsBefore = Fd.openFdCountOfProcess();
    }

    @AfterEach
    void stop() {
        servers.forEach(VfioUserServer::close);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(fdsBefore);
    }

    private VfioUserServer serve(VfioDevice device, ServerOptions options, Platform platform) throws Exception {
        VfioUserServer server = VfioUserServer.bind(dir.resolve("dev" + servers.size() + ".sock"), device, options, platform);
        servers.add(server);
        server.start();
        return server;
    }

    private static List<InfoCapability> zpciCaps(DeviceInfo info) throws Exception {
        List<InfoCapability> caps = new ArrayList<>();
        for (InfoCapability c : info.caps()) {
            caps.add(ZpciCaps.decode(c));
        }
        return caps;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void everyDeviceCarriesTheZpciCapabilities(String name, Supplier<VfioDevice> device) throws Exception {
        ZpciExtension zpci = new ZpciExtension(CONFIG);
        VfioUserServer server = serve(device.get(), ServerOptions.defaults(), Platform.of(zpci));
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow())) {
            DeviceInfo plain = client.deviceInfo();
            assertThat(plain.encodedSize()).as("a 16-byte request gets the 16-byte answer").isEqualTo(16);
            assertThat(plain.caps()).isEmpty();

            DeviceInfo full = client.deviceInfo(512);
            assertThat(full.flags() & Vfio.DEVICE_FLAGS_CAPS).isNotZero();
            List<InfoCapability> caps = zpciCaps(full);
            System.out.println(name + " (no hypervisor link): " + caps);
            assertThat(caps).containsExactly(
                    new ZpciCaps.Base(0x1_0000_0000L, 0xfff_ffff_ffffL, 0x2a, 3, 64, 0x0a, 7, 0),
                    new ZpciCaps.Group(0xff_ffff_ffff_ffffL, 0xfe00_0000_0000_0000L, ZpciCaps.FLAG_REFRESH, 100, 64, 2048, 1, 0),
                    ZpciCaps.Text.util("JVFIO GPIO".getBytes(Charset.forName("IBM037"))),
                    ZpciCaps.Text.pfip(new byte[] {0x0a, 0x0b, 0x0c}));
            assertThat(zpci.openSessions()).as("the extension took part in open").isEqualTo(1);
        }
    }

    @Test
    void aHypervisorLinkShowsInTheCapabilitiesAClientWithoutOneSees() throws Exception {
        ZpciExtension zpci = new ZpciExtension(CONFIG);
        VfioUserServer withLink = serve(new PciIdio16(),
                ServerOptions.defaults().withHypervisorLink(new Interpreting(0x8000_1234, 4096)), Platform.of(zpci));
        VfioUserServer without = serve(new PciIdio16(), ServerOptions.defaults(), Platform.of(zpci));
        try (VfioUserClient a = VfioUserClient.connect(withLink.socketPath().orElseThrow());
             VfioUserClient b = VfioUserClient.connect(without.socketPath().orElseThrow())) {
            List<InfoCapability> linked = zpciCaps(a.deviceInfo(512));
            List<InfoCapability> plain = zpciCaps(b.deviceInfo(512));
            System.out.println("GPIO card with an interpreting link: " + linked);
            assertThat(((ZpciCaps.Base) linked.get(0)).fh()).isEqualTo(0x8000_1234);
            assertThat(((ZpciCaps.Group) linked.get(1)).imaxstbl()).isEqualTo(4096);
            assertThat(((ZpciCaps.Base) plain.get(0)).fh()).as("interpretation absent").isZero();
            assertThat(((ZpciCaps.Group) plain.get(1)).imaxstbl()).isZero();
        }
    }

    @Test
    void theExtensionLeavesWithTheClientAndIsOffByDefault() throws Exception {
        ZpciExtension zpci = new ZpciExtension(ZpciConfig.defaults());
        VfioUserServer server = serve(new PciIdio16(), ServerOptions.defaults(), Platform.of(zpci));
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow())) {
            assertThat(client.deviceInfo(512).caps()).hasSize(4);
        }
        for (int i = 0; i < 500 && server.hasClient(); i++) {
            Thread.sleep(10);
        }
        assertThat(zpci.openSessions()).isZero();
        VfioUserServer plain = serve(new PciIdio16(), ServerOptions.defaults(), Platform.none());
        try (VfioUserClient client = VfioUserClient.connect(plain.socketPath().orElseThrow())) {
            assertThat(client.deviceInfo(512).caps()).isEmpty();
        }
    }
}
