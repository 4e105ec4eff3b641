package io.jvfio.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The fd-leak check: the open descriptors of this process (/proc/self/fd) before a test, and after
 * it the same count again. Counted with the JDK alone, so that jvfio-linux's tests can use it too.
 */
public final class OpenFds {
    private static final Path PROC_FDS = Path.of("/proc/self/fd");

    private final int count;
    private final List<String> described;

    private OpenFds(int count, List<String> described) {
        this.count = count;
        this.described = described;
    }

    /** The open descriptors now, to check against after the test. */
    public static OpenFds snapshot() {
        List<String> described = describe();
        return new OpenFds(count(), described);
    }

    /** The number of open descriptors of this process. */
    public static int count() {
        String[] entries = PROC_FDS.toFile().list();
        if (entries == null) {
            throw new IllegalStateException("cannot list " + PROC_FDS);
        }
        return entries.length;
    }

    /** "n -> target" for each open descriptor, to show what leaked. */
    public static List<String> describe() {
        List<String> entries = new ArrayList<>();
        try (Stream<Path> fds = Files.list(PROC_FDS)) {
            for (Path fd : fds.sorted().toList()) {
                try {
                    entries.add(fd.getFileName() + " -> " + Files.readSymbolicLink(fd));
                } catch (IOException gone) {
                    // The listing's own descriptor is gone by the time it is read.
                }
            }
        } catch (IOException e) {
            entries.add("cannot list: " + e);
        }
        return entries;
    }

    /**
     * Throws unless as many descriptors are open as at the snapshot, within {@code settle}:
     * descriptors closed by other threads (a device thread's last use) may lag the close.
     */
    public void assertNoneLeaked(Duration settle) throws Exception {
        if (!Await.until(settle, () -> count() == count)) {
            int now = count();
            if (now != count) {
                throw new AssertionError("open fds after the test: %d, before: %d; before: %s, after: %s"
                        .formatted(now, count, described, describe()));
            }
        }
    }
}
