package io.jvfio.cli.trace;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.Cli;
import io.jvfio.cli.Main;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.PciIdio16;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jvfio trace} as a command: options, errors, and a real process stopped by SIGTERM. */
class TraceCommandTest {
    @TempDir
    Path dir;

    @Test
    void helpShowsAQemuExample() {
        Cli.Run r = Cli.run("trace", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("--listen", "--upstream", "--output", "vfio-user-pci", "C>S");
    }

    @Test
    void missingOptionsAndBadSocketsAreOneClearLine() throws Exception {
        Cli.Run missing = Cli.run("trace", "--listen", dir.resolve("a.sock").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("Missing required option: '--upstream=PATH'");

        Cli.Run same = Cli.run("trace", "--listen", "/tmp/x.sock", "--upstream", "/tmp/x.sock");
        assertThat(same.exit()).isEqualTo(1);
        assertThat(same.err()).isEqualTo("jvfio: --listen and --upstream are the same socket: /tmp/x.sock" + System.lineSeparator());

        Path file = Files.writeString(dir.resolve("file"), "x");
        Cli.Run notSocket = Cli.run("trace", "--listen", file.toString(), "--upstream", "/tmp/y.sock");
        assertThat(notSocket.exit()).isEqualTo(1);
        assertThat(notSocket.err()).startsWith("jvfio: bind: " + file + " exists and is not a socket");
    }

    @Test
    void aRealProcessTracesIntoAFileAndCleansUpOnSigterm() throws Exception {
        Path upstream = dir.resolve("gpio.sock");
        Path listen = dir.resolve("trace.sock");
        Path output = Files.writeString(dir.resolve("gpio.trace"), "earlier run\n");
        try (VfioUserServer server = VfioUserServer.bind(upstream, new PciIdio16(), ServerOptions.defaults())) {
            server.start();
            String java = ProcessHandle.current().info().command().orElse(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString());
            Process process = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "trace", "--listen", listen.toString(), "--upstream", upstream.toString(), "--output", output.toString()))
                    .redirectError(dir.resolve("stderr").toFile())
                    .redirectOutput(dir.resolve("stdout").toFile())
                    .start();
            try {
                // The banner comes once the socket listens (the file exists a moment earlier).
                awaitTrue(() -> Files.readString(dir.resolve("stderr")).startsWith("tracing") || !process.isAlive(), "the trace socket");
                assertThat(process.isAlive()).as("trace is running: " + Files.readString(dir.resolve("stderr"))).isTrue();
                try (VfioUserClient client = VfioUserClient.connect(listen)) {
                    assertThat(client.deviceInfo().numRegions()).isEqualTo(Vfio.PCI_NUM_REGIONS);
                }
                awaitTrue(() -> Files.readString(output).contains("--- connection 1 closed"), "the trace lines");
                process.destroy(); // SIGTERM
                assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("exits on SIGTERM").isTrue();
            } finally {
                process.destroyForcibly();
            }
            assertThat(Files.exists(listen)).as("socket file removed").isFalse();
            List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8);
            assertThat(lines.get(0)).isEqualTo("earlier run");
            assertThat(lines).anyMatch(l -> l.contains(" C>S #0 VERSION cmd 0.0 "))
                    .anyMatch(l -> l.endsWith(" S>C #1 DEVICE_GET_INFO reply flags=RESET,PCI num_regions=9 num_irqs=5 argsz=16 fds=0"));
            assertThat(Files.readString(dir.resolve("stdout"))).isEmpty();
            assertThat(Files.readString(dir.resolve("stderr"))).startsWith("tracing " + listen + " -> " + upstream + " into " + output);
        }
    }

    private static void awaitTrue(Await.Condition check, String what) throws Exception {
        if (!Await.until(Duration.ofSeconds(30), check)) {
            throw new AssertionError("timed out waiting for " + what);
        }
    }
}
