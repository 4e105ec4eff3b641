package io.jvfio.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code jvfio bench}'s command line (the benchmarks themselves are tested in jvfio-bench). */
class BenchCommandTest {
    @Test
    void benchSubcommandsParse() {
        CommandLine cli = new CommandLine(new BenchCommand());
        assertThat(cli.getSubcommands()).containsKeys("latency", "scale", "startup", "aot-training", "virtio-blk");
        CommandLine.ParseResult parsed = cli.parseArgs("latency", "--ops", "10", "--placement", "cross-cpu",
                "--libvfio-user-exec", "/bin/false", "--native-echo-exec", "/bin/true");
        assertThat(parsed.subcommand().matchedOptionValue("--ops", 0)).isEqualTo(10);
        assertThat(parsed.subcommand().matchedOptionValue("--native-echo-exec", (Object) null)).hasToString("/bin/true");
    }
}
