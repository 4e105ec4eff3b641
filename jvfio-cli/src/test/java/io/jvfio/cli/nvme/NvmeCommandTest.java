package io.jvfio.cli.nvme;

import static io.jvfio.cli.Cli.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.Cli.Run;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jvfio nvme} against jvfio's NVMe controller served on a real socket. */
class NvmeCommandTest {
    @TempDir
    Path dir;
    NvmeController controller;
    VfioUserServer server;
    String socket;

    @BeforeEach
    void serve() throws Exception {
        controller = NvmeController.builder().namespace(BlockImage.open(dir.resolve("a.img"), 4 << 20, false))
                .namespace(BlockImage.open(dir.resolve("b.img"), 8 << 20, false)).serial("JVCLI0001").model("jvfio cli test")
                .firmware("3.1").build();
        server = VfioUserServer.bind(dir.resolve("nvme.sock"), controller, ServerOptions.defaults());
        server.start();
        socket = dir.resolve("nvme.sock").toString();
    }

    @AfterEach
    void stop() {
        server.close();
        controller.shutdown();
    }

    @Test
    void identifiesTheControllerAndItsNamespaces() {
        Run id = run("nvme", socket, "id-ctrl");
        assertThat(id.exit()).as(id.err()).isZero();
        assertThat(id.out()).contains("NVME Identify Controller:", "sn        : JVCLI0001", "mn        : jvfio cli test",
                "fr        : 3.1", "mdts      : 7 (524.29 kB", "nn        : 2", "ver       : 0x10400 (1.4.0)",
                "oncs      : 0xc (Dataset Management, Write Zeroes)");

        Run ns = run("nvme", socket, "id-ns", "-n", "2");
        assertThat(ns.exit()).as(ns.err()).isZero();
        assertThat(ns.out()).contains("NVME Identify Namespace 2:", "nsze      : 0x4000", "lbads:9");

        Run list = run("nvme", socket, "list");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out().lines().filter(l -> l.startsWith(socket))).hasSize(2);
        assertThat(list.out()).contains("JVCLI0001", "4.19 MB", "8.39 MB");

        Run json = run("nvme", socket, "list", "--json");
        assertThat(json.out()).contains("\"sn\":\"JVCLI0001\"", "\"namespaces\":[{\"nsid\":1,\"nsze\":8192,",
                "{\"nsid\":2,\"nsze\":16384,");
        assertThat(run("nvme", socket, "id-ctrl", "--json").out()).startsWith("{\"vid\":").contains("\"mdts\":7");
    }

    @Test
    void writesAFileAndReadsItBack() throws Exception {
        byte[] content = new byte[3000];
        new Random(4).nextBytes(content);
        Path in = Files.write(dir.resolve("in.bin"), content);
        Run write = run("nvme", socket, "write", "-n", "2", "-s", "100", "-d", in.toString());
        assertThat(write.exit()).as(write.err()).isZero();
        assertThat(write.out()).contains("wrote 6 blocks (3072 bytes) to namespace 2 at block 100");

        Path out = dir.resolve("out.bin");
        Run read = run("nvme", socket, "read", "-n", "2", "-s", "100", "-c", "6", "-d", out.toString());
        assertThat(read.exit()).as(read.err()).isZero();
        byte[] back = Files.readAllBytes(out);
        assertThat(Arrays.copyOf(back, 3000)).isEqualTo(content);
        assertThat(Arrays.copyOfRange(back, 3000, 3072)).containsOnly(0);
        try (var image = java.nio.channels.FileChannel.open(dir.resolve("b.img"))) {
            java.nio.ByteBuffer onDisk = java.nio.ByteBuffer.allocate(3000);
            image.read(onDisk, 100 * 512);
            assertThat(onDisk.array()).isEqualTo(content);
        }
    }

    @Test
    void printsTheSmartLog() throws Exception {
        Path in = Files.write(dir.resolve("in.bin"), new byte[4096]);
        assertThat(run("nvme", socket, "write", "-d", in.toString()).exit()).isZero();
        Run smart = run("nvme", socket, "smart-log");
        assertThat(smart.exit()).as(smart.err()).isZero();
        assertThat(smart.out()).contains("Smart Log for NVME device:" + socket + " namespace-id:ffffffff")
                .containsPattern("critical_warning +: 0\n").containsPattern("temperature +: \\d+ °C \\(\\d+ K\\)")
                .containsPattern("available_spare +: 100%").containsPattern("Data Units Written +: 1 \\(512.00 kB\\)")
                .containsPattern("host_write_commands +: 1\n").containsPattern("power_cycles +: 1\n");

        Run json = run("nvme", socket, "smart-log", "--json");
        assertThat(json.exit()).as(json.err()).isZero();
        assertThat(json.out()).startsWith("{\"critical_warning\":0,\"temperature\":").contains("\"avail_spare\":100",
                "\"data_units_written\":1,", "\"host_write_commands\":1,", "\"num_err_log_entries\":0");
    }

    @Test
    void flushesAndResets() {
        Run flush = run("nvme", socket, "flush", "-n", "2");
        assertThat(flush.exit()).as(flush.err()).isZero();
        assertThat(flush.out()).contains("flushed namespace 2");
        assertThat(run("nvme", socket, "flush", "-n", "3").err()).contains("namespace 3 is not active");

        long configurations = controller.doorbellStatistics().shadowConfigurations();
        Run reset = run("nvme", socket, "reset");
        assertThat(reset.exit()).as(reset.err()).isZero();
        assertThat(reset.out()).contains("controller reset: jvfio cli test ready again");
        assertThat(controller.doorbellStatistics().shadowConfigurations()).as("bring-up and the reset set shadow doorbells up")
                .isEqualTo(configurations + 2);
    }

    @Test
    void explainsMistakes() {
        Run unknown = run("nvme", socket, "format");
        assertThat(unknown.exit()).isEqualTo(1);
        assertThat(unknown.err()).contains("unknown action 'format'", "smart-log", "reset");
        Run outside = run("nvme", socket, "read", "-s", "8192");
        assertThat(outside.exit()).isEqualTo(1);
        assertThat(outside.err()).contains("do not fit namespace 1");
        Run noNamespace = run("nvme", socket, "id-ns", "-n", "3");
        assertThat(noNamespace.err()).contains("namespace 3 is not active");
    }

    @Test
    void aPciAddressGoesToTheKernelBackend() {
        Run r = run("nvme", "ffff:ff:1f.7", "id-ctrl");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("jvfio: no PCI device ffff:ff:1f.7");
    }
}
