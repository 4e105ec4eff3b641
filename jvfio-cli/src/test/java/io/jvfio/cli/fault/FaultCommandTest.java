package io.jvfio.cli.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jvfio.cli.Cli;
import io.jvfio.cli.Main;
import io.jvfio.client.DeviceException;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.PciIdio16;
import io.jvfio.devices.nvme.NvmeCommand;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.nvme.NvmeFaultAction;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.linux.Errno;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultPlan;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jvfio serve … --faults PLAN --fault-control PATH} in a real process and {@code jvfio fault}
 * against it: the plan's rule fires on a client's region reads from the start, and rules are listed,
 * injected, removed and cleared, firings logged, over the control socket. Plus help and errors.
 */
class FaultCommandTest {
    private static final int BAR2 = 2;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void helpListsTheVerbsAndThePlanWords() {
        Cli.Run fault = Cli.run("fault", "--help");
        assertThat(fault.exit()).isZero();
        assertThat(fault.out()).contains("list", "inject RULE", "remove ID", "clear", "log", "--json",
                "Fault plan words", "    region ", "    irq ", "    dma ", "    now ", "    fail ", "    all-ones ",
                "    remove-dma-window ", "    stall ");
        Cli.Run serve = Cli.run("serve", "gpio", "--help");
        assertThat(serve.out()).contains("--faults=PLAN", "--fault-control=PATH", "Fault plan words", "    drop-irq ");
        assertThat(Cli.run("--help").out()).contains("  fault ");
    }

    @Test
    void eachDevicesHelpListsItsOwnWords() {
        assertThat(Cli.run("serve", "gpio", "--help").out()).contains("    glitch ");
        assertThat(Cli.run("serve", "virtio-blk", "--help").out())
                .contains("    virtio-blk-request ", "    delay-completion ", "    needs-reset ", "    delay ", "    region ");
        assertThat(Cli.run("serve", "nvme", "--help").out()).contains("    nvme-command ", "    critical-warning ");
    }

    @Test
    void aBadPlanIsAClearErrorBeforeServing() throws Exception {
        Path socket = dir.resolve("gpio.sock");
        Path plan = Files.writeString(dir.resolve("plan.yaml"), "rules:\n  - {on: region, region: bar2, action: fial}\n");
        Cli.Run bad = Cli.run("serve", "gpio", "--socket", socket.toString(), "--faults", plan.toString());
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).isEqualTo("jvfio: " + plan + ": rule #1: action: unknown action 'fial'; this device knows: "
                + "glitch, fail, all-ones, delay, drop-connection, raise, drop-irq, repeat-irq, delay-irq, fail-dma, remove-dma-window, stall"
                + System.lineSeparator());
        assertThat(socket).doesNotExist();

        Cli.Run missing = Cli.run("serve", "gpio", "--socket", socket.toString(), "--faults", dir.resolve("none.yaml").toString());
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).startsWith("jvfio: fault plan " + dir.resolve("none.yaml") + " does not exist");
        assertThat(socket).doesNotExist();
    }

    @Test
    void wrongUseIsOneClearLine() {
        String control = dir.resolve("control.sock").toString();
        assertThat(Cli.run("fault", control, "frob").err()).isEqualTo(
                "jvfio: unknown verb 'frob'; use list, inject RULE, remove ID, clear or log" + System.lineSeparator());
        assertThat(Cli.run("fault", control, "inject").err()).startsWith("jvfio: inject needs a RULE");
        assertThat(Cli.run("fault", control, "clear", "x").err()).startsWith("jvfio: clear takes no argument, not 'x'");
        Cli.Run absent = Cli.run("fault", control, "list");
        assertThat(absent.exit()).isEqualTo(1);
        assertThat(absent.err()).startsWith("jvfio: cannot connect to the fault control socket " + control);
        assertThat(Cli.run("fault").exit()).isEqualTo(2);
    }

    @Test
    void injectedRulesAreCheckedByTheServersVocabulary() throws Exception {
        Path control = dir.resolve("control.sock");
        try (VfioUserServer server = VfioUserServer.bind(dir.resolve("gpio.sock"), new PciIdio16(), ServerOptions.defaults())) {
            server.start();
            server.openFaultControl(control);
            Cli.Run bad = Cli.run("fault", control.toString(), "inject", "{on: region, region: bar2, action: fail, times: never}");
            assertThat(bad.exit()).isEqualTo(1);
            assertThat(bad.err()).startsWith("jvfio: rule injected-1: times: expected an integer (decimal or 0x-hex), not 'never'");
            Path file = Files.writeString(dir.resolve("rule.json"), "{\"id\": \"from-file\", \"on\": \"irq\", \"index\": \"intx\", \"action\": \"drop-irq\"}");
            assertThat(Cli.run("fault", control.toString(), "inject", "@" + file).out()).isEqualTo("armed from-file" + System.lineSeparator());
            assertThat(server.faults().rules()).extracting(r -> r.id()).containsExactly("from-file");
        }
    }

    @Test
    void aDevicesOwnWordsAreReadThroughThePlan() throws Exception {
        NvmeController nvme = NvmeController.builder().namespace(new NullStore(1 << 20)).build();
        try {
            FaultVocabulary words = nvme.faultVocabulary();
            List<FaultRule> rules = FaultPlan.parse("""
                    rules:
                      - {id: media, on: nvme-command, opcode: read, lbas: 100-107, action: complete, status: unrecovered-read-error, dnr: true}
                      - {on: region, region: bar0, at: 0x14, action: fail}
                    """, words);
            assertThat(rules.getFirst().match()).isEqualTo(new NvmeCommand(0x02, NvmeCommand.ANY_IO_QUEUE, NvmeCommand.ANY_NAMESPACE, 100, 107));
            assertThat(rules.getFirst().action()).isEqualTo(new NvmeFaultAction.Complete(0x281, true));
            assertThat(rules.getLast().match()).isEqualTo(new FaultMatch.RegionAccess(0, 0x14, 0x15, FaultMatch.Direction.ANY));
            assertThatThrownBy(() -> FaultPlan.parse("rules: [{id: media, on: nvme-command, opcode: read, lbs: 100, action: never-complete}]", words))
                    .hasMessageStartingWith("rule media (#1): unknown field 'lbs'; this rule's fields are: id, on, ");
        } finally {
            nvme.shutdown();
        }
    }

    @Test
    void aServedPlanFiresFromTheStartAndTheControlSocketChangesIt() throws Exception {
        Path socket = dir.resolve("gpio.sock");
        Path control = dir.resolve("faults.sock");
        Path plan = Files.writeString(dir.resolve("plan.yaml"), """
                seed: 42
                rules:
                  - id: first-reads
                    on: region
                    region: bar2
                    at: 0x0-0x1
                    direction: read
                    action: fail
                    errno: EIO
                    times: 2
                """);
        Process process = serve("gpio", "--socket", socket.toString(), "--faults", plan.toString(), "--fault-control", control.toString());
        try {
            assertThat(Files.readString(dir.resolve("stdout"))).contains("faults: 1 rule from " + plan, "fault control: " + control);

            try (VfioUserClient client = VfioUserClient.connect(socket)) {
                for (int i = 0; i < 2; i++) {
                    assertThatThrownBy(() -> client.read8(BAR2, 0)).isInstanceOfSatisfying(DeviceException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EIO));
                }
                client.read8(BAR2, 0); // the rule fired twice and retired

                assertThat(fault(control, "list")).isEqualTo("no rules armed\nfired in all: 2\n");
                assertThat(fault(control, "inject", "{id: gone, on: region, region: bar2, action: all-ones}")).isEqualTo("armed gone\n");
                assertThat(client.read8(BAR2, 1)).isEqualTo(0xff);
                assertThat(fault(control, "list")).isEqualTo(
                        "{id: gone, on: region, region: bar2, action: all-ones}\n    matched 1, fired 1\nfired in all: 3\n");
                JsonNode listed = JSON.readTree(fault(control, "list", "--json"));
                assertThat(listed.path("rules").get(0).path("id").asText()).isEqualTo("gone");

                String log = fault(control, "log");
                assertThat(log.lines()).hasSize(3);
                assertThat(log.lines().toList().getFirst()).matches("\\S+Z  first-reads  fail, errno: EIO  on region 2 read 0x0\\+1");
                assertThat(log.lines().toList().getLast()).endsWith("  gone  all-ones  on region 2 read 0x1+1");
                JsonNode jsonLog = JSON.readTree(fault(control, "log", "--json"));
                assertThat(jsonLog.path("next").asLong()).isEqualTo(3);
                assertThat(jsonLog.path("firings")).hasSize(3);

                assertThat(fault(control, "remove", "gone")).isEqualTo("removed gone\n");
                assertThat(client.read8(BAR2, 1)).isNotEqualTo(0xff);
                fault(control, "inject", "{on: region, region: bar2, action: fail}");
                assertThat(fault(control, "clear")).isEqualTo("cleared 1 rule\n");
                client.read8(BAR2, 0);
            }
            assertThat(Files.readString(dir.resolve("stderr"))).as("the server logs each firing with its time")
                    .containsPattern("fault first-reads fired at \\S+Z: fail, errno: EIO on region 2 read 0x0\\+1");
            process.destroy(); // SIGTERM
            assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(control).as("the control socket goes with the server").doesNotExist();
        } finally {
            process.destroyForcibly();
        }
    }

    @Test
    void aServedVirtioBlkListsItsPlanInPlanWordsAndTakesItsWordsAtRunTime() throws Exception {
        Path control = dir.resolve("faults.sock");
        Path plan = Files.writeString(dir.resolve("plan.yaml"), """
                rules:
                  - {id: bad-sectors, on: virtio-blk-request, type: in, sectors: 2048-2055, action: complete, status: ioerr}
                  - {id: slow-config, on: region, region: config, direction: read, action: delay, delay: 5ms}
                """);
        Process process = serve("virtio-blk", "--disk", dir.resolve("disk.img").toString(), "--create", "--size", "1M",
                "--socket", dir.resolve("blk.sock").toString(), "--faults", plan.toString(), "--fault-control", control.toString());
        try {
            assertThat(fault(control, "list")).isEqualTo("""
                    {id: bad-sectors, on: virtio-blk-request, type: in, sectors: 2048-2055, action: complete, status: ioerr}
                        matched 0, fired 0
                    {id: slow-config, on: region, region: config, direction: read, action: delay, delay: 5ms}
                        matched 0, fired 0
                    fired in all: 0
                    """);
            assertThat(fault(control, "inject", "{id: slow-flush, on: virtio-blk-request, type: flush, action: delay-completion, delay: 2s, every: 2}"))
                    .isEqualTo("armed slow-flush\n");
            assertThat(fault(control, "list")).contains(
                    "{id: slow-flush, on: virtio-blk-request, type: flush, action: delay-completion, delay: 2s, every: 2}\n");
            Cli.Run wrong = Cli.run("fault", control.toString(), "inject", "{id: wrong, on: region, region: bar0, action: delay-completion, delay: 2s}");
            assertThat(wrong.exit()).isEqualTo(1);
            assertThat(wrong.err()).startsWith("jvfio: rule wrong: action: 'delay-completion' does not apply to on: region");

            assertThat(fault(control, "inject", "{id: err, on: now, action: raise, irq: err}")).isEqualTo("armed err\n");
            assertThat(fault(control, "log")).matches("\\S+Z  err  raise, irq: err, vector: 0  on now\n");
        } finally {
            stop(process);
        }
    }

    @Test
    void aServedNvmeControllerListsItsPlanInPlanWordsAndTakesItsWordsAtRunTime() throws Exception {
        Path control = dir.resolve("faults.sock");
        Path plan = Files.writeString(dir.resolve("plan.yaml"), """
                rules:
                  - id: media
                    on: nvme-command
                    opcode: read
                    lbas: 100-107
                    action: complete
                    status: unrecovered-read-error
                    dnr: true
                """);
        Process process = serve("nvme", "--null", "1M", "--socket", dir.resolve("nvme.sock").toString(),
                "--faults", plan.toString(), "--fault-control", control.toString());
        try {
            assertThat(fault(control, "list")).isEqualTo("""
                    {id: media, on: nvme-command, opcode: read, lbas: 100-107, action: complete, status: unrecovered-read-error, dnr: true}
                        matched 0, fired 0
                    fired in all: 0
                    """);
            assertThat(fault(control, "inject", "{id: hot, on: now, action: thermal, state: hot}")).isEqualTo("armed hot\n");
            assertThat(fault(control, "inject", "{id: spare, on: now, action: critical-warning, warning: spare}")).isEqualTo("armed spare\n");
            List<String> log = fault(control, "log").lines().toList();
            assertThat(log).hasSize(2);
            assertThat(log.getFirst()).matches("\\S+Z  hot  thermal, state: hot  on now");
            assertThat(log.getLast()).matches("\\S+Z  spare  critical-warning, warning: spare  on now");
            assertThat(fault(control, "list")).as("Now rules fire once and are not armed")
                    .isEqualTo("{id: media, on: nvme-command, opcode: read, lbas: 100-107, action: complete, status: unrecovered-read-error, dnr: true}\n"
                            + "    matched 0, fired 0\nfired in all: 2\n");
        } finally {
            stop(process);
        }
    }

    /** {@code jvfio serve ARGS} in a process of its own, once it is serving (its output goes to stdout and stderr in {@link #dir}). */
    private Process serve(String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "serve"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command)
                .redirectError(dir.resolve("stderr").toFile()).redirectOutput(dir.resolve("stdout").toFile()).start();
        try {
            awaitTrue(() -> Files.readString(dir.resolve("stdout")).contains("fault control:") || !process.isAlive(), "the banner");
            assertThat(process.isAlive()).as("serving: " + Files.readString(dir.resolve("stderr"))).isTrue();
            return process;
        } catch (Throwable e) {
            process.destroyForcibly();
            throw e;
        }
    }

    /** Stops a served process with SIGTERM, as a user would, and waits for it. */
    private static void stop(Process process) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }

    private static String fault(Path control, String... verbAndArguments) {
        String[] args = new String[verbAndArguments.length + 2];
        args[0] = "fault";
        args[1] = control.toString();
        System.arraycopy(verbAndArguments, 0, args, 2, verbAndArguments.length);
        Cli.Run run = Cli.run(args);
        assertThat(run.exit()).as(run.err()).isZero();
        return run.out().replace(System.lineSeparator(), "\n");
    }

    private static void awaitTrue(Await.Condition check, String what) throws Exception {
        if (!Await.until(Duration.ofSeconds(30), check)) {
            throw new AssertionError("timed out waiting for " + what);
        }
    }
}
