package io.jvfio.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.bench.NvmeBench;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code jvfio bench}'s command line (the benchmarks themselves are tested in jvfio-bench). */
class BenchCommandTest {
    @Test
    void benchSubcommandsParse() {
        CommandLine cli = new CommandLine(new BenchCommand());
        assertThat(cli.getSubcommands()).containsKeys("latency", "scale", "startup", "aot-training", "virtio-blk", "nvme");
        CommandLine.ParseResult parsed = cli.parseArgs("latency", "--ops", "10", "--placement", "cross-cpu",
                "--libvfio-user-exec", "/bin/false", "--native-echo-exec", "/bin/true");
        assertThat(parsed.subcommand().matchedOptionValue("--ops", 0)).isEqualTo(10);
        assertThat(parsed.subcommand().matchedOptionValue("--native-echo-exec", (Object) null)).hasToString("/bin/true");
    }

    @Test
    void nvmeOptionsBecomeTheBenchsOptions() {
        BenchCommand.Nvme nvme = new BenchCommand.Nvme();
        new CommandLine(nvme).parseArgs("--seconds", "3", "--memory", "private", "--rows", "randread-4k-qd32,seqread-1m", "--json",
                "--targets", "shadow", "--cpus", "2");
        NvmeBench.Options options = nvme.options();
        assertThat(options.seconds()).isEqualTo(3);
        assertThat(options.sharedMemory()).isFalse();
        assertThat(options.image()).isNull();
        assertThat(options.imageBytes()).isEqualTo(256L << 20);
        assertThat(options.rows()).containsExactly(NvmeBench.Row.RANDREAD_4K_QD32, NvmeBench.Row.SEQREAD_1M);
        assertThat(options.targets()).containsExactly(NvmeBench.Target.SHADOW);
        assertThat(options.cpus()).isEqualTo(2);
        assertThat(nvme.json).isTrue();

        BenchCommand.Nvme defaults = new BenchCommand.Nvme();
        new CommandLine(defaults).parseArgs();
        assertThat(defaults.options().rows()).containsExactly(NvmeBench.Row.values());
        assertThat(defaults.options().sharedMemory()).isTrue();
        assertThat(defaults.options().targets()).containsExactly(NvmeBench.Target.values());
        assertThat(defaults.options().cpus()).isEqualTo(1);

        BenchCommand.Nvme bad = new BenchCommand.Nvme();
        new CommandLine(bad).parseArgs("--memory", "both");
        assertThatThrownBy(bad::options).hasMessageContaining("--memory must be shared or private");
        BenchCommand.Nvme badRow = new BenchCommand.Nvme();
        new CommandLine(badRow).parseArgs("--rows", "randread");
        assertThatThrownBy(badRow::options).hasMessageContaining("no row 'randread'");
    }
}
