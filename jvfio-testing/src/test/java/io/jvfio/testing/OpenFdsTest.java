package io.jvfio.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenFdsTest {
    @Test
    void anOpenFileIsALeakUntilClosed(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("f");
        Files.writeString(file, "x");
        OpenFds before = OpenFds.snapshot();
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            assertThat(in.read()).isEqualTo('x');
            assertThatThrownBy(() -> before.assertNoneLeaked(Duration.ofMillis(20)))
                    .isInstanceOf(AssertionError.class).hasMessageContaining(file.toString());
        }
        before.assertNoneLeaked(Duration.ZERO);
    }
}
