package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Every test of the module must leave the process with as many open fds as it found. Subclass
 * cleanups (@AfterEach) run before {@link #noFdLeaked()}.
 */
abstract class FdLeakCheck {
    static {
        // Lazily opened JDK and test-library files must be open before the first count, not during a test.
        assertThat(Fd.openFdCountOfProcess()).isPositive();
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

    private int fdsBefore;
    private List<String> descriptionBefore;

    @BeforeEach
    final void countFds() {
        descriptionBefore = describeOpenFds();
        fdsBefore = Fd.openFdCountOfProcess();
    }

    @AfterEach
    final void noFdLeaked() {
        int fdsAfter = Fd.openFdCountOfProcess();
        assertThat(fdsAfter)
                .as("open fds after the test; before: %s, after: %s", descriptionBefore, describeOpenFds())
                .isEqualTo(fdsBefore);
    }

    /** "n -> target" for each open fd, to show what leaked. */
    static List<String> describeOpenFds() {
        List<String> entries = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.sorted().toList()) {
                try {
                    entries.add(fd.getFileName() + " -> " + Files.readSymbolicLink(fd));
                } catch (IOException gone) {
                    // The directory stream's own fd is gone by the time it is read.
                }
            }
        } catch (IOException e) {
            entries.add("cannot list: " + e);
        }
        return entries;
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
