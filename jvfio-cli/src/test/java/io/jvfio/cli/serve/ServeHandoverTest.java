package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.Main;
import io.jvfio.client.VfioUserClient;
import io.jvfio.protocol.Vfio;
import io.jvfio.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live upgrade between processes: {@code jvfio serve gpio --handover-socket CTRL} replaced by
 * {@code jvfio serve gpio --take-over CTRL --handover-socket CTRL}, three times, while a client
 * keeps writing and reading the card's outputs over the one connection it opened.
 */
class ServeHandoverTest {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX, OUT_0_7 = 0;
    private static final int UPGRADES = 3;

    @TempDir
    Path dir;

    private Process serve(String name, String... endpoint) throws Exception {
        return serveDyingAt(null, name, endpoint);
    }

    /** A server process that dies as by SIGKILL at hand-over step {@code step} (DeathPoint), or never if null. */
    private Process serveDyingAt(String step, String name, String... endpoint) throws Exception {
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow"));
        if (step != null) {
            command.add("-Djvfio.handover.dieAt=" + step);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve", "gpio"));
        command.addAll(List.of(endpoint));
        command.addAll(List.of("--handover-socket", dir.resolve("gpio.ctl").toString()));
        return new ProcessBuilder(command)
                .redirectError(dir.resolve(name + ".err").toFile())
                .redirectOutput(dir.resolve(name + ".out").toFile())
                .start();
    }

    private String out(String name) throws Exception {
        return Files.readString(dir.resolve(name + ".out"));
    }

    @Test
    void aServerProcessIsReplacedWhileItsClientStaysConnected() throws Exception {
        Path socket = dir.resolve("gpio.sock"), control = dir.resolve("gpio.ctl");
        List<Process> processes = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger exchanges = new AtomicInteger(), last = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread traffic = null;
        try {
            processes.add(serve("server0", "--socket", socket.toString()));
            awaitTrue(() -> out("server0").contains("offering a live upgrade"), "the first server");
            VfioUserClient client = VfioUserClient.connect(socket);
            traffic = Thread.ofPlatform().name("gpio-client").start(() -> {
                try (client) {
                    for (int i = 1; !stop.get(); i++) {
                        client.write8(BAR2, OUT_0_7, i & 0xff);
                        last.set(i & 0xff);
                        assertThat(client.read8(BAR2, OUT_0_7)).isEqualTo(i & 0xff);
                        exchanges.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            for (int u = 1; u <= UPGRADES; u++) {
                int before = exchanges.get();
                awaitTrue(() -> exchanges.get() >= before + 50 || failure.get() != null, "traffic before upgrade " + u);
                String name = "server" + u;
                Process old = processes.getLast();
                processes.add(serve(name, "--take-over", control.toString()));
                assertThat(old.waitFor(60, TimeUnit.SECONDS)).as("the old server exits after the hand-over").isTrue();
                assertThat(old.exitValue()).isZero();
                assertThat(out("server" + (u - 1))).contains("handed over to a successor; exiting");
                awaitTrue(() -> out(name).contains("upgrade pause:"), "the new server's first command");
                awaitTrue(() -> out(name).contains("offering a live upgrade"), "the new server's offer");
                // The pause, and where it went (the successor's log and the old server's).
                System.out.println(name + ": " + out(name).lines().filter(l -> l.startsWith("upgrade pause")).findFirst().orElseThrow());
                Files.readString(dir.resolve(name + ".err")).lines().filter(l -> l.contains("took over")).forEach(System.out::println);
                Files.readString(dir.resolve("server" + (u - 1) + ".err")).lines().filter(l -> l.contains("handed over"))
                        .forEach(System.out::println);
            }
            int before = exchanges.get();
            awaitTrue(() -> exchanges.get() >= before + 50 || failure.get() != null, "traffic after the upgrades");
            assertThat(failure.get()).as("the client saw no error and no disconnect").isNull();
            assertThat(Files.exists(socket)).as("the socket file, taken over").isTrue();
            stop.set(true);
            traffic.join(10_000);
            Process current = processes.getLast();
            current.destroy(); // SIGTERM: the last server closes as usual
            assertThat(current.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.exists(socket)).as("socket file removed by the last server").isFalse();
        } finally {
            stop.set(true);
            if (traffic != null) {
                traffic.join(10_000);
            }
            boolean clean = failure.get() == null;
            for (Process p : processes) {
                clean &= !p.isAlive() && (p.exitValue() == 0 || p.exitValue() == 143); // exited, or by the SIGTERM above
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            if (!clean) {
                for (int i = 0; i < processes.size(); i++) { // what each server said, for the failure's report
                    System.out.println("server" + i + ":\n" + out("server" + i) + Files.readString(dir.resolve("server" + i + ".err")));
                }
            }
        }
        assertThat(failure.get()).isNull();
    }

    /** The client's traffic over one connection: writes and reads back an output until stopped or failed. */
    private static final class Traffic implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicInteger exchanges = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread;

        Traffic(Path socket) throws Exception {
            VfioUserClient client = VfioUserClient.connect(socket);
            thread = Thread.ofPlatform().name("gpio-client").start(() -> {
                try (client) {
                    for (int i = 1; !stop.get(); i++) {
                        client.write8(BAR2, OUT_0_7, i & 0xff);
                        assertThat(client.read8(BAR2, OUT_0_7)).isEqualTo(i & 0xff);
                        exchanges.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }

        /** Waits for {@code more} exchanges; fails if the client failed first. */
        void await(int more, String what) throws Exception {
            int target = exchanges.get() + more;
            awaitTrue(() -> exchanges.get() >= target || failure.get() != null, what);
            assertThat(failure.get()).as("the client's traffic, " + what).isNull();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(10_000);
        }
    }

    private static void stopAll(List<Process> processes) throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** A test's body, given the list where it puts the server processes it starts (named server0, server1, …). */
    private interface Servers {
        void run(List<Process> processes) throws Exception;
    }

    /** Runs {@code test}, then stops every server it started; prints their logs if it failed. */
    private void withServers(Servers test) throws Exception {
        List<Process> processes = new ArrayList<>();
        boolean passed = false;
        try {
            test.run(processes);
            passed = true;
        } finally {
            stopAll(processes);
            for (int i = 0; !passed && i < processes.size(); i++) {
                System.out.println("server" + i + ":\n" + out("server" + i) + Files.readString(dir.resolve("server" + i + ".err")));
            }
        }
    }

    /**
     * Who owns the device when a process dies at a step of the hand-over: a successor killed before it
     * said LOADED leaves the old server serving (and a later successor takes over from it); an old
     * server killed right after its COMMIT leaves the successor serving. The client sees no error.
     */
    @Test
    void aKilledSuccessorLeavesTheOldServerServingAndAKilledOldServerLeavesTheCommittedSuccessorServing() throws Exception {
        Path socket = dir.resolve("gpio.sock"), control = dir.resolve("gpio.ctl");
        withServers(processes -> {
            processes.add(serve("server0", "--socket", socket.toString()));
            awaitTrue(() -> out("server0").contains("offering a live upgrade"), "the first server");
            try (Traffic traffic = new Traffic(socket)) {
                traffic.await(50, "before the hand-overs");

                processes.add(serveDyingAt("successor-loaded", "server1", "--take-over", control.toString()));
                assertThat(processes.get(1).waitFor(60, TimeUnit.SECONDS)).as("the successor dies").isTrue();
                assertThat(processes.get(1).exitValue()).isEqualTo(137);
                traffic.await(50, "after the successor died with the device loaded, before LOADED");
                assertThat(processes.get(0).isAlive()).as("the old server serves on").isTrue();
                awaitTrue(() -> Files.readString(dir.resolve("server0.err")).contains("hand-over failed, serving on"), "the old server's log");

                // This successor, once it serves, dies right after its own COMMIT to the next one.
                processes.add(serveDyingAt("old-committed", "server2", "--take-over", control.toString()));
                assertThat(processes.get(0).waitFor(60, TimeUnit.SECONDS)).as("the first server exits after the hand-over").isTrue();
                assertThat(processes.get(0).exitValue()).isZero();
                awaitTrue(() -> out("server2").contains("offering a live upgrade"), "the second successor's offer");
                traffic.await(50, "after the hand-over to server2");

                processes.add(serve("server3", "--take-over", control.toString()));
                assertThat(processes.get(2).waitFor(60, TimeUnit.SECONDS)).as("server2 dies after its COMMIT").isTrue();
                assertThat(processes.get(2).exitValue()).isEqualTo(137);
                traffic.await(50, "through server3, after server2 died committed");
                assertThat(processes.get(3).isAlive()).isTrue();
            }
        });
    }

    /**
     * An old server killed between the successor's LOADED and its own COMMIT: the successor, whose
     * device is loaded and stopped, must not start it (the old server might have run it again), so
     * no server owns the device — the client's connection ends, as with a SIGKILL of its server.
     */
    @Test
    void anOldServerKilledBeforeItsCommitLeavesNoServerRatherThanTwo() throws Exception {
        Path socket = dir.resolve("gpio.sock"), control = dir.resolve("gpio.ctl");
        withServers(processes -> {
            processes.add(serveDyingAt("old-loaded", "server0", "--socket", socket.toString()));
            awaitTrue(() -> out("server0").contains("offering a live upgrade"), "the first server");
            try (Traffic traffic = new Traffic(socket)) {
                traffic.await(50, "before the hand-over");
                processes.add(serve("server1", "--take-over", control.toString()));
                assertThat(processes.get(0).waitFor(60, TimeUnit.SECONDS)).as("the old server dies").isTrue();
                assertThat(processes.get(0).exitValue()).isEqualTo(137);
                assertThat(processes.get(1).waitFor(60, TimeUnit.SECONDS)).as("the successor gives up").isTrue();
                assertThat(processes.get(1).exitValue()).isNotZero();
                assertThat(Files.readString(dir.resolve("server1.err"))).contains("did not commit");
                awaitTrue(() -> traffic.failure.get() != null, "the client to see its connection end");
            }
        });
    }

    /**
     * {@code --take-over-wait}: a successor started before the upgrade is wanted builds its device and
     * waits for its control path, while the running server serves on; the path appearing (a link to
     * the control socket) starts the hand-over.
     */
    @Test
    void aSuccessorStartedAheadTakesOverWhenItsControlPathAppears() throws Exception {
        Path socket = dir.resolve("gpio.sock"), control = dir.resolve("gpio.ctl"), go = dir.resolve("gpio.go");
        List<Process> processes = new ArrayList<>();
        try {
            processes.add(serve("server0", "--socket", socket.toString()));
            awaitTrue(() -> out("server0").contains("offering a live upgrade"), "the first server");
            try (VfioUserClient client = VfioUserClient.connect(socket)) {
                client.write8(BAR2, OUT_0_7, 0x5a);
                processes.add(serve("server1", "--take-over", go.toString(), "--take-over-wait", "60s"));
                awaitTrue(() -> out("server1").contains("ready to take over once " + go.toAbsolutePath() + " is there"), "the successor");
                assertThat(client.read8(BAR2, OUT_0_7)).as("the first server serves on").isEqualTo(0x5a);
                assertThat(processes.getFirst().isAlive()).isTrue();

                Files.createSymbolicLink(go, control);
                assertThat(processes.getFirst().waitFor(60, TimeUnit.SECONDS)).as("the old server exits after the hand-over").isTrue();
                assertThat(out("server0")).contains("handed over to a successor; exiting");
                assertThat(client.read8(BAR2, OUT_0_7)).as("the successor has the card's outputs").isEqualTo(0x5a);
                awaitTrue(() -> out("server1").contains("upgrade pause:"), "the successor's first command");
            }
        } finally {
            for (Process p : processes) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void takeOverWaitNeedsTakeOver() throws Exception {
        Process alone = serve("alone", "--socket", dir.resolve("alone.sock").toString(), "--take-over-wait", "1s");
        assertThat(alone.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(alone.exitValue()).isEqualTo(1);
        assertThat(Files.readString(dir.resolve("alone.err"))).contains("--take-over-wait goes with --take-over");
    }

    private static void awaitTrue(Await.Condition check, String what) throws Exception {
        if (!Await.until(Duration.ofSeconds(60), check)) {
            throw new AssertionError("timed out waiting for " + what);
        }
    }
}
