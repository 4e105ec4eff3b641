package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * unsetenv(3) reaches the children a ProcessBuilder starts: the pom sets JVFIO_UNSETENV_PROBE for
 * this test's JVM, which takes it away and then runs env(1).
 */
class UnsetenvTest {
    private static final String PROBE = "JVFIO_UNSETENV_PROBE";

    @Test
    void aChildStartedAfterUnsetenvDoesNotInheritTheVariable() throws Exception {
        assumeThat(System.getenv(PROBE)).as("surefire sets " + PROBE + " (jvfio-linux/pom.xml)").isNotNull();
        assertThat(childEnvironment()).contains(PROBE + "=");
        Linux.unsetenv(PROBE);
        assertThat(childEnvironment()).doesNotContain(PROBE + "=").contains("PATH=");
        Linux.unsetenv(PROBE); // already gone: still fine, as for unsetenv(3)
    }

    @Test
    void aNameWithAnEqualsSignIsRefused() {
        assertThatThrownBy(() -> Linux.unsetenv("A=B")).isInstanceOf(LinuxException.class).hasMessageContaining("EINVAL");
    }

    private static String childEnvironment() throws Exception {
        Process env = new ProcessBuilder("/usr/bin/env").redirectErrorStream(true).start();
        // Its pipes are closed here, not when the Process is collected: a later test's fd-leak check
        // would otherwise see them go in the middle of that test.
        try (var stdin = env.getOutputStream(); var stdout = env.getInputStream()) {
            String out = new String(stdout.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(env.waitFor()).isZero();
            return out;
        }
    }
}
