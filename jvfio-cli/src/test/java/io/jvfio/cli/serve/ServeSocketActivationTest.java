package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.jvfio.cli.Main;
import io.jvfio.client.ClientOptions;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Vfio;
import io.jvfio.testing.Await;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend-program conventions for real: {@code jvfio serve gpio} started by systemd's
 * {@code systemd-socket-activate} (the socket units' protocol: LISTEN_PID, LISTEN_FDS, fd 3), with a
 * listening socket, with one connection per process ({@code Accept=yes}), and the sockets it refuses;
 * and {@code --socket-path}.
 */
class ServeSocketActivationTest {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX, OUT_0_7 = 0;
    /** The first client waits for the server's JVM to start: generous on a loaded machine. */
    private static final ClientOptions PATIENT = ClientOptions.defaults().withCallTimeout(Duration.ofSeconds(120));

    @TempDir
    Path dir;

    private Path activator;
    private final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void findActivator() {
        Optional<Path> found = Stream.concat(Stream.of(System.getenv().getOrDefault("PATH", "").split(":")), Stream.of("/usr/bin", "/bin"))
                .filter(d -> !d.isEmpty()).map(d -> Path.of(d, "systemd-socket-activate")).filter(Files::isExecutable).findFirst();
        assumeThat(found).as("systemd-socket-activate (package systemd) is needed for these tests").isPresent();
        activator = found.get();
    }

    @AfterEach
    void stopProcesses() throws Exception {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** {@code systemd-socket-activate ACTIVATOR_ARGS java … Main serve gpio SERVE_ARGS}, its output to NAME.out/.err. */
    private Process activate(String name, List<String> activatorArgs, String... serveArgs) throws Exception {
        List<String> command = new ArrayList<>(List.of(activator.toString()));
        command.addAll(activatorArgs);
        command.addAll(jvfio("serve", "gpio"));
        command.addAll(List.of(serveArgs));
        return start(name, command);
    }

    private static List<String> jvfio(String... args) {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        return command;
    }

    private Process start(String name, List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectOutput(dir.resolve(name + ".out").toFile())
                .redirectError(dir.resolve(name + ".err").toFile()).start();
        processes.add(p);
        return p;
    }

    private String out(String name) throws Exception {
        return Files.readString(dir.resolve(name + ".out"));
    }

    private String err(String name) throws Exception {
        return Files.readString(dir.resolve(name + ".err"));
    }

    private static void awaitTrue(Await.Condition check, String what) throws Exception {
        if (!Await.until(Duration.ofSeconds(120), check)) {
            throw new AssertionError("timed out waiting for " + what);
        }
    }

    /**
     * Activates jvfio on gpio.sock (and on the sockets of {@code moreActivatorArgs}), connects, and
     * returns jvfio's process once it has exited (a refusal).
     */
    private Process refusal(List<String> moreActivatorArgs, String... serveArgs) throws Exception {
        Path socket = dir.resolve("gpio.sock");
        List<String> activatorArgs = new ArrayList<>(List.of("-l", socket.toString()));
        activatorArgs.addAll(moreActivatorArgs);
        Process server = activate("server", activatorArgs, serveArgs);
        awaitTrue(() -> Files.exists(socket), "the activator's socket");
        try (UnixSocket ignored = UnixSocket.connect(socket)) { // the connection starts jvfio
            assertThat(server.waitFor(120, TimeUnit.SECONDS)).isTrue();
        }
        return server;
    }

    /** Writes {@code value} to the card's outputs and reads them back; returns what they held before. */
    private static int swapOutputs(VfioUserClient client, int value) throws Exception {
        int before = client.read8(BAR2, OUT_0_7);
        client.write8(BAR2, OUT_0_7, value);
        assertThat(client.read8(BAR2, OUT_0_7)).isEqualTo(value);
        return before;
    }

    @Test
    void aListeningSocketFromSystemdIsServedToOneClientAfterAnother() throws Exception {
        Path socket = dir.resolve("gpio.sock");
        Process server = activate("server", List.of("-l", socket.toString(), "--fdname=gpio"));
        awaitTrue(() -> Files.exists(socket), "the activator's socket");
        try (VfioUserClient client = VfioUserClient.connect(socket, PATIENT)) { // the connection starts jvfio
            assertThat(swapOutputs(client, 0x5a)).isZero();
        }
        assertThat(out("server")).contains("serving PciIdio16 on fd 3, passed by systemd (gpio)");
        try (VfioUserClient client = VfioUserClient.connect(socket, PATIENT)) {
            assertThat(swapOutputs(client, 0xa5)).as("the same server and device: the listening socket was served").isEqualTo(0x5a);
        }
        server.destroy(); // SIGTERM, as systemctl stop sends
        assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(server.exitValue()).as(err("server")).isZero();
        assertThat(Files.exists(socket)).as("the socket belongs to systemd: left in place").isTrue();
    }

    @Test
    void withAcceptYesEachConnectionGetsAServerProcessOfItsOwn() throws Exception {
        Path socket = dir.resolve("gpio.sock");
        Process activatorProcess = activate("server", List.of("--accept", "-l", socket.toString()));
        awaitTrue(() -> Files.exists(socket), "the activator's socket");
        for (int connection = 1; connection <= 2; connection++) {
            try (VfioUserClient client = VfioUserClient.connect(socket, PATIENT)) {
                assertThat(swapOutputs(client, 0x40 + connection)).as("a fresh card each time").isZero();
            }
            int served = connection;
            // The connection's server exits once its one client is gone.
            awaitTrue(() -> activatorProcess.descendants().noneMatch(ProcessHandle::isAlive), "connection " + served + "'s server to exit");
        }
        assertThat(out("server").lines().filter(l -> l.equals("serving PciIdio16 on fd 3, passed by systemd")).count()).isEqualTo(2);
    }

    @Test
    void aTcpSocketIsRefusedWithWhatItIs() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Process server = activate("server", List.of("-l", "127.0.0.1:" + port));
        awaitTrue(() -> err("server").contains("Listening on"), "the activator's socket");
        try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
            assertThat(server.waitFor(120, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(server.exitValue()).isEqualTo(1);
        assertThat(err("server")).contains("jvfio: serve fd 3 is an AF_INET SOCK_STREAM socket; vfio-user needs AF_UNIX SOCK_STREAM");
    }

    @Test
    void moreThanOneSocketIsRefusedNamingThem() throws Exception {
        Process server = refusal(List.of("-l", dir.resolve("other.sock").toString(), "--fdname=gpio:other"));
        assertThat(server.exitValue()).isEqualTo(1);
        assertThat(err("server")).contains("socket activation passed 2 sockets (LISTEN_FDNAMES=gpio:other)");
    }

    @Test
    void anEndpointOptionBesideTheSystemdSocketIsAnError() throws Exception {
        Process server = refusal(List.of(), "--socket", dir.resolve("mine.sock").toString());
        assertThat(server.exitValue()).isEqualTo(2);
        assertThat(err("server")).contains("Error: systemd passed this process a socket (LISTEN_PID, LISTEN_FDS)", "Usage: jvfio serve gpio");
        assertThat(Files.exists(dir.resolve("mine.sock"))).isFalse();
    }

    @Test
    void socketPathIsTheSameAsSocket() throws Exception {
        Path socket = dir.resolve("gpio.sock");
        Process server = start("server", jvfio("serve", "gpio", "--socket-path=" + socket));
        awaitTrue(() -> out("server").contains("serving PciIdio16 on " + socket), "the server");
        try (VfioUserClient client = VfioUserClient.connect(socket, PATIENT)) {
            assertThat(swapOutputs(client, 0x33)).isZero();
        }
        server.destroy();
        assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(server.exitValue()).as(err("server")).isZero();
        assertThat(Files.exists(socket)).as("removed, as with --socket").isFalse();
    }
}
