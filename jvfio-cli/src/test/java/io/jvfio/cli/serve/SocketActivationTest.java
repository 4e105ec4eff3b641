package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Reading the socket-activation variables (sd_listen_fds(3)'s rules); the real thing is in ServeSocketActivationTest. */
class SocketActivationTest {
    private static final long PID = 4242;

    @Test
    void oneSocketForThisProcessIsFdThreeWithItsName() {
        assertThat(SocketActivation.from(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "1", "LISTEN_FDNAMES", "nvme0"), PID))
                .contains(new SocketActivation.Passed(3, Optional.of("nvme0")));
        assertThat(SocketActivation.from(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "1"), PID))
                .contains(new SocketActivation.Passed(3, Optional.empty()));
    }

    @Test
    void variablesForAnotherProcessOrNoSocketMeanNoActivation() {
        assertThat(SocketActivation.from(Map.of(), PID)).isEmpty();
        assertThat(SocketActivation.from(Map.of("LISTEN_PID", "1", "LISTEN_FDS", "1"), PID)).as("inherited by a child").isEmpty();
        assertThat(SocketActivation.from(Map.of("LISTEN_FDS", "1"), PID)).isEmpty();
        assertThat(SocketActivation.from(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "0"), PID)).isEmpty();
    }

    @Test
    void moreThanOneSocketOrAMalformedCountIsAnError() {
        assertThatThrownBy(() -> SocketActivation.from(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "a:b"), PID))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("passed 2 sockets (LISTEN_FDNAMES=a:b)");
        assertThatThrownBy(() -> SocketActivation.from(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "x"), PID))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("LISTEN_FDS=x");
        assertThatThrownBy(() -> SocketActivation.from(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "-1"), PID))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("LISTEN_FDS=-1");
    }
}
