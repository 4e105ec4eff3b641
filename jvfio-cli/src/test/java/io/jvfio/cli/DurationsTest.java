package io.jvfio.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {
    @Test
    void millisecondsSecondsAndMinutes() {
        assertThat(Durations.parse("500ms", "--x")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("10s", "--x")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Durations.parse(" 2M ", "--x")).isEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void zeroAndNoneMeanNoLimit() {
        assertThat(Durations.parse("0", "--x")).isZero();
        assertThat(Durations.parse("none", "--x")).isZero();
        assertThat(Durations.parse("NONE", "--x")).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "10", "s", "-1s", "0s", "1.5s", "10h", "99999999999999999999s", "10 s"})
    void anythingElseIsRefusedNamingTheOption(String text) {
        assertThatThrownBy(() -> Durations.parse(text, "--message-timeout"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--message-timeout").hasMessageContaining("500ms");
    }
}
