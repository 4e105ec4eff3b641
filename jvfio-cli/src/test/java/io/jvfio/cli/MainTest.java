package io.jvfio.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.serve.ServeCommand;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command tree: only the named branch for a command, the whole tree for help and errors. */
class MainTest {
    private static final List<String> TOP = List.of("serve", "demo", "lspci", "trace", "migrate", "bench", "nvme", "fault", "help");

    /** Subcommand names, depth first, e.g. "serve", "serve gpio". */
    private static List<String> tree(CommandLine cli) {
        return cli.getSubcommands().entrySet().stream()
                .flatMap(e -> java.util.stream.Stream.concat(java.util.stream.Stream.of(e.getKey()),
                        tree(e.getValue()).stream().map(sub -> e.getKey() + " " + sub)))
                .collect(Collectors.toList());
    }

    @Test
    void aCommandGetsOnlyItsBranch() {
        assertThat(tree(Main.commandLine("serve", "gpio", "--socket", "x"))).containsExactly("serve", "serve gpio");
        assertThat(tree(Main.commandLine("serve", "virtio-blk", "--disk", "d"))).containsExactly("serve", "serve virtio-blk");
        assertThat(tree(Main.commandLine("serve", "nvme", "--null", "1G"))).containsExactly("serve", "serve nvme");
        assertThat(tree(Main.commandLine("lspci", "-vv", "s"))).containsExactly("lspci");
        assertThat(tree(Main.commandLine("bench", "startup")))
                .containsExactly("bench", "bench virtio-blk", "bench nvme", "bench nvme-driver", "bench latency", "bench scale", "bench startup",
                        "bench aot-training");
    }

    @Test
    void helpUsageAndErrorsGetTheWholeTree() {
        List<String> whole = tree(Main.commandLine());
        assertThat(whole).filteredOn(n -> !n.contains(" ")).containsExactlyElementsOf(TOP);
        assertThat(whole).contains("serve gpio", "serve virtio-blk", "serve nvme", "bench startup");
        for (String[] args : List.of(new String[] {"--help"}, new String[] {"help", "serve"}, new String[] {"-V", "serve"},
                new String[] {"serv"}, new String[] {"@args"})) {
            assertThat(tree(Main.commandLine(args))).as(String.join(" ", args)).isEqualTo(whole);
        }
        assertThat(tree(Main.commandLine("serve"))).containsExactly("serve", "serve gpio", "serve virtio-blk", "serve nvme");
        assertThat(tree(Main.commandLine("serve", "--help", "gpio"))).containsExactly("serve", "serve gpio", "serve virtio-blk", "serve nvme");
        assertThat(tree(Main.commandLine("serve", "GPIO"))).containsExactly("serve", "serve gpio", "serve virtio-blk", "serve nvme");
    }

    @Test
    void namesComeFromTheAnnotations() {
        Map<String, CommandLine> top = Main.commandLine().getSubcommands();
        assertThat((Object) top.get("serve").getCommand()).isInstanceOf(ServeCommand.class);
        assertThat((Object) top.get("help").getCommand()).isInstanceOf(CommandLine.HelpCommand.class);
        assertThat((Object) top.get("serve").getSubcommands().get("gpio").getCommand()).isInstanceOf(ServeCommand.Gpio.class);
    }

    @Test
    void usageListsEveryCommand() {
        Cli.Run root = Cli.run("--help");
        assertThat(root.exit()).isZero();
        assertThat(root.out()).contains("Commands:", "  serve ", "  demo ", "  lspci ", "  trace ", "  migrate ", "  bench ", "  nvme ", "  help ");
        Cli.Run serve = Cli.run("serve", "--help");
        assertThat(serve.out()).contains("Commands:", "  gpio ", "  virtio-blk ");
        assertThat(Cli.run("serve", "nvme", "--help").out()).contains("--polled-doorbells", "--namespace=IMG");
        Cli.Run missing = Cli.run("serve", "gpio");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("Error: Missing required argument (specify one of these): (--socket=PATH | --socket-path=PATH"
                + " | --fd=N | --take-over=CTRL), or start under systemd socket activation", "Usage: jvfio serve gpio");
        Cli.Run both = Cli.run("serve", "gpio", "--socket", "a.sock", "--socket-path", "b.sock");
        assertThat(both.exit()).isEqualTo(2);
        assertThat(both.err()).contains("Error: --socket=PATH, --socket-path=PATH are mutually exclusive (specify only one)");
        assertThat(Cli.run("serve", "gpio", "--help").out()).contains("--socket-path=PATH", "The same as --socket",
                "none when systemd passes the socket", "--describe");
        Cli.Run typo = Cli.run("serve", "gpi");
        assertThat(typo.exit()).isEqualTo(2);
        assertThat(typo.err()).contains("Unmatched argument at index 1: 'gpi'", "Did you mean: serve gpio?");
    }

    @Test
    void versionOnTheClassPathIsADevelopmentBuild() {
        // The module's own version shows on the module path: scripts/dist.sh --check asserts it.
        Cli.Run version = Cli.run("--version");
        assertThat(version.exit()).isZero();
        assertThat(version.out()).isEqualTo("jvfio development build on Java " + Runtime.version() + System.lineSeparator());
    }
}
