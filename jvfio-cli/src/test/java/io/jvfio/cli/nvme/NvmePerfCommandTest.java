package io.jvfio.cli.nvme;

import static io.jvfio.cli.Cli.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.Cli.Run;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jvfio nvme SOCKET perf} against jvfio's controller with a null namespace and polled doorbells. */
class NvmePerfCommandTest {
    @TempDir
    Path dir;
    NvmeController controller;
    VfioUserServer server;
    String socket;

    @BeforeEach
    void serve() throws Exception {
        controller = NvmeController.builder().namespace(new NullStore(64 << 20)).polledDoorbells(true).build();
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
    void printsTheSummaryOrJson() {
        Run human = run("nvme", socket, "perf", "-q", "8", "-o", "8k", "-w", "randrw", "-M", "30", "-t", "0.3", "--warmup", "0.1");
        assertThat(human.exit()).as(human.err()).isZero();
        assertThat(human.out()).contains("randrw 8192 B, queue depth 8, 1 thread, polled, namespace 1, 0.3 s", "IOPS", "MiB/s",
                "latency µs   min ", " p99.9 ", " 0 errors");

        Run json = run("nvme", socket, "perf", "-q", "4", "-w", "write", "-t", "0.3", "--warmup", "0", "--json", "--interrupts");
        assertThat(json.exit()).as(json.err()).isZero();
        assertThat(json.out().strip()).startsWith("{\"pattern\":\"write\",\"io_bytes\":4096,\"queue_depth\":4,\"threads\":1,"
                + "\"interrupts\":true,").contains("\"reads\":0,", "\"errors\":0,").endsWith("}");
    }

    @Test
    void explainsMistakesAndHelps() {
        Run pattern = run("nvme", socket, "perf", "-w", "zigzag", "-t", "0.1");
        assertThat(pattern.exit()).isEqualTo(1);
        assertThat(pattern.err()).contains("unknown pattern 'zigzag'");
        Run size = run("nvme", socket, "perf", "-o", "100", "-t", "0.1");
        assertThat(size.exit()).isEqualTo(1);
        assertThat(size.err()).contains("not a multiple of namespace 1's 512-byte blocks");
        Run help = run("nvme", "--help");
        assertThat(help.out()).contains("perf      keep -q commands", "-q, --queue-depth=QD", "-w, --pattern=PATTERN",
                "-M, --read-percent=READ%", "-t, --time=SECONDS", "--threads=N");
        assertThat(help.err()).as("picocli formats the help without complaint").isEmpty();
    }
}
