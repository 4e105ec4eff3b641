package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.testing.OpenFds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Every test of the module must leave the process with as many open fds as it found. Subclass
 * cleanups (@AfterEach) run before {@link #noFdLeaked()}.
 */
abstract class FdLeakCheck {
    static {
        // Lazily opened JDK and test-library files must be open before the first count, not during a test.
        assertThat(OpenFds.count()).isPositive();
        try (EventFd warmUp = EventFd.create(); Epoll epoll = Epoll.create()) {
            epoll.add(warmUp.fd(), Epoll.IN, 0);
            UnixSocket[] pair = UnixSocket.pair();
            pair[0].close();
            pair[1].close();
            Memfd.create("warm-up", 1).close();
        } catch (LinuxException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private OpenFds before;

    @BeforeEach
    final void countFds() {
        before = OpenFds.snapshot();
    }

    @AfterEach
    final void noFdLeaked() throws Exception {
        before.assertNoneLeaked(Duration.ZERO);
    }

    /** The open flags of {@code fd} as /proc reports them (octal "flags:" of fdinfo). */
    static int openFlags(Fd fd) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd.value()))) {
            if (line.startsWith("flags:")) return Integer.parseInt(line.substring(6).trim(), 8);
        }
        throw new IllegalStateException("no flags line for " + fd);
    }

    static final int O_CLOEXEC = 0x80000;
}
