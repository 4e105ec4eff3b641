package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.server.Deadlines;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code jvfio serve}'s deadline options reach {@link Deadlines}. */
class ServeDeadlinesTest {
    private static ServeCommand.Gpio parse(String... args) {
        ServeCommand.Gpio gpio = new ServeCommand.Gpio();
        new CommandLine(gpio).parseArgs(args);
        return gpio;
    }

    @Test
    void theDefaultsAreTheServersDefaults() {
        assertThat(parse("--socket", "s").deadlines()).isEqualTo(Deadlines.defaults());
    }

    @Test
    void eachOptionSetsItsDeadline() {
        Deadlines d = parse("--socket", "s", "--handshake-timeout", "500ms", "--message-timeout", "none",
                "--stuck-callback-after", "2s", "--stuck-callback", "error").deadlines();
        assertThat(d).isEqualTo(new Deadlines(Duration.ofMillis(500), Duration.ZERO, Duration.ofSeconds(2),
                Deadlines.OnStuckCallback.ERROR));
    }

    @Test
    void aWrongActionIsRefused() {
        assertThatThrownBy(() -> parse("--socket", "s", "--stuck-callback", "ignore").deadlines())
                .hasMessageContaining("--stuck-callback must be report or error");
    }

    @Test
    void helpSaysHowToTurnThemOff() {
        String usage = new CommandLine(new ServeCommand.Gpio()).getUsageMessage().replaceAll("\\s+", " "); // unwrapped
        assertThat(usage).contains("--handshake-timeout=DURATION", "--message-timeout=DURATION", "--stuck-callback-after=DURATION",
                "--stuck-callback=report|error", "0 or none: no limit", "0 or none: no watchdog");
    }
}
