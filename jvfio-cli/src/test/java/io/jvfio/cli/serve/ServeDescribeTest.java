package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jvfio.cli.Cli;
import io.jvfio.devices.PciIdio16;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.devices.virtio.VirtioBlk;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.PciDevice;
import io.jvfio.server.RegionSpec;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jvfio serve DEVICE … --describe}: JSON on stdout that matches the device the same options
 * build — its config header, every region and irq index, its migration, the server's limits — and
 * no serving.
 */
class ServeDescribeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static JsonNode describe(String... args) throws Exception {
        Cli.Run run = Cli.run(args);
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.err()).isEmpty();
        return JSON.readTree(run.out());
    }

    @Test
    void gpioIsDescribedAsItsCardAndNothingIsServed() throws Exception {
        Path socket = dir.resolve("gpio.sock");
        JsonNode json = describe("serve", "gpio", "--describe", "--socket", socket.toString());
        assertThat(Files.exists(socket)).as("--describe does not serve").isFalse();
        assertThat(json.get("description").asText()).startsWith("ACCES PCI-IDIO-16");
        assertThat(json.get("type").asText()).isEqualTo("pci");
        assertThat(json.at("/device/class").asText()).isEqualTo(PciIdio16.class.getName());
        assertThat(json.at("/device/pci/vendor_id").asText()).isEqualTo("0x494f");
        assertThat(json.at("/device/pci/device_id").asText()).isEqualTo("0x0dc8");
        assertThat(json.at("/migration/supported").asBoolean()).isTrue();
        assertThat(json.at("/migration/flags").toString()).isEqualTo("[\"STOP_COPY\",\"PRE_COPY\"]");
        PciIdio16 card = new PciIdio16();
        assertDescribes(json, card);
    }

    @Test
    void aDeviceSpecificRegionShowsItsTypeAndThePlatformExtensionsAreNamed() throws Exception {
        JsonNode json = describe("serve", "gpio", "--diagnostics", "--platform", "zpci", "--describe");
        JsonNode region9 = regionNode(json, 9);
        assertThat(region9.get("flags").toString()).isEqualTo("[\"R\"]");
        assertThat(region9.at("/capabilities/0/type").asText()).as("PCI vendor type | 494f").isEqualTo("0x8000494f");
        assertThat(region9.at("/capabilities/0/subtype").asText()).isEqualTo("0x00000001");
        assertThat(json.at("/device/platform_extensions").toString()).isEqualTo("[\"zpci\"]");
    }

    @Test
    void virtioBlkIsDescribedWithItsQueuesVectors() throws Exception {
        Path disk = dir.resolve("disk.img");
        JsonNode json = describe("serve", "virtio-blk", "--disk", disk.toString(), "--create", "--size", "1M", "--queues", "2", "--describe");
        VirtioBlk blk = VirtioBlk.builder(disk).queues(2).build();
        try {
            assertThat(json.at("/device/pci/vendor_id").asText()).isEqualTo("0x1af4");
            assertThat(json.at("/device/pci/device_id").asText()).isEqualTo("0x1042");
            assertDescribes(json, blk);
        } finally {
            blk.shutdown();
        }
    }

    @Test
    void nvmeIsDescribedWithItsMappableDoorbellPage() throws Exception {
        JsonNode json = describe("serve", "nvme", "--null", "1G", "--polled-doorbells", "--describe");
        NvmeController nvme = NvmeController.builder().namespace(new NullStore(1L << 30)).polledDoorbells(true).build();
        try {
            assertThat(json.at("/device/pci/class_code").asText()).as("mass storage, NVM, NVM Express").isEqualTo("0x010802");
            JsonNode bar0 = regionNode(json, Vfio.PCI_BAR0_REGION_INDEX);
            assertThat(bar0.get("flags").toString()).contains("\"MMAP\"");
            assertThat(bar0.get("mappable_areas").toString()).isEqualTo("[{\"offset\":4096,\"size\":4096}]");
            assertDescribes(json, nvme);
        } finally {
            nvme.shutdown();
        }
    }

    private static JsonNode regionNode(JsonNode json, int index) {
        for (JsonNode r : json.get("regions")) {
            if (r.get("index").asInt() == index) {
                return r;
            }
        }
        throw new AssertionError("no region " + index + " in " + json);
    }

    /** The JSON's ids, regions, irqs and limits are those of {@code device}, asked directly. */
    private static void assertDescribes(JsonNode json, PciDevice device) throws Exception {
        assertThat(json.at("/device/name").asText()).isEqualTo(device.name());
        assertThat(json.at("/device/pci/vendor_id").asText()).isEqualTo(hex(device.config().read(0x00, 2), 4));
        assertThat(json.at("/device/pci/device_id").asText()).isEqualTo(hex(device.config().read(0x02, 2), 4));
        assertThat(json.at("/device/pci/subsystem_vendor_id").asText()).isEqualTo(hex(device.config().read(0x2c, 2), 4));
        assertThat(json.at("/device/pci/subsystem_id").asText()).isEqualTo(hex(device.config().read(0x2e, 2), 4));
        assertThat(json.at("/device/pci/revision").asText()).isEqualTo(hex(device.config().read(0x08, 1), 2));
        assertThat(json.at("/device/pci/class_code").asText()).isEqualTo(hex(device.config().read(0x09, 1)
                | device.config().read(0x0a, 1) << 8 | device.config().read(0x0b, 1) << 16, 6));
        assertThat(regions(json)).isEqualTo(regions(device));
        assertThat(irqs(json)).isEqualTo(irqs(device));
        ServerOptions defaults = ServerOptions.defaults();
        assertThat(json.at("/server/version_capabilities/max_msg_fds").asInt()).isEqualTo(defaults.maxMsgFds());
        assertThat(json.at("/server/version_capabilities/max_data_xfer_size").asInt()).isEqualTo(defaults.maxDataXferSize());
        assertThat(json.at("/server/version_capabilities/write_multiple").asBoolean()).isTrue();
        assertThat(json.at("/server/max_dma_windows").asInt()).isEqualTo(defaults.maxDmaWindows());
        assertThat(json.at("/migration/supported").asBoolean()).isEqualTo(device.migration().isPresent());
    }

    /** "index size access" of every region present, e.g. "2 256 R,W". */
    private static List<String> regions(JsonNode json) {
        List<String> lines = new ArrayList<>();
        for (JsonNode r : json.get("regions")) {
            List<String> flags = new ArrayList<>();
            r.get("flags").forEach(f -> flags.add(f.asText()));
            lines.add(r.get("index").asInt() + " " + r.get("size").asLong() + " " + String.join(",", flags));
        }
        return lines;
    }

    private static List<String> regions(VfioDevice device) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < device.info().numRegions(); i++) {
            RegionSpec r = device.regionInfo(i);
            if (r.size() > 0) {
                List<String> flags = new ArrayList<>();
                if (r.readable()) flags.add("R");
                if (r.writable()) flags.add("W");
                if (r.mmap().isPresent()) flags.add("MMAP");
                lines.add(i + " " + r.size() + " " + String.join(",", flags));
            }
        }
        return lines;
    }

    /** "index count" of every irq index with vectors. */
    private static List<String> irqs(JsonNode json) {
        List<String> lines = new ArrayList<>();
        json.get("irqs").forEach(i -> lines.add(i.get("index").asInt() + " " + i.get("count").asInt()));
        return lines;
    }

    private static List<String> irqs(VfioDevice device) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < device.info().numIrqs(); i++) {
            if (device.irqInfo(i).count() > 0) {
                lines.add(i + " " + device.irqInfo(i).count());
            }
        }
        return lines;
    }

    private static String hex(int value, int digits) {
        return "0x" + String.format("%0" + digits + "x", value);
    }
}
