package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Devices served on sockets in a test's directory, each with a connected client, and whatever
 * else the test opens; {@link #close()} closes it all, newest first, and checks that the process
 * has no more open fds than when this was made.
 */
public final class ServedDevices implements AutoCloseable, BeforeEachCallback, AfterEachCallback {
    private final Path dir;
    /** Whether the directory is this object's own, deleted at {@link #close()}. */
    private final boolean ownsDir;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    /** Fds open when this was made, or when the test began (as an extension). */
    private int fdsBefore = Fd.openFdCountOfProcess();

    /** Serves in {@code dir}, which the caller owns. */
    public ServedDevices(Path dir) {
        this.dir = dir;
        this.ownsDir = false;
    }

    /**
     * Serves in a fresh temporary directory of its own, deleted at {@link #close()}: a test's whole
     * fixture is then {@code @RegisterExtension final ServedDevices served = new ServedDevices();}
     * (fds counted when the test begins, everything closed and checked when it ends).
     */
    public ServedDevices() {
        try {
            this.dir = Files.createTempDirectory("jvfio-served");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.ownsDir = true;
    }

    /** The directory the sockets are in; a test may keep its files there too. */
    public Path dir() {
        return dir;
    }

    /** Serves {@code device} on {@code socketName} in the directory and returns a client connected to it. */
    public VfioUserClient serve(VfioDevice device, String socketName) throws Exception {
        VfioUserServer server = closeLater(VfioUserServer.bind(dir.resolve(socketName), device, ServerOptions.defaults()));
        server.start();
        return closeLater(VfioUserClient.connect(server.socketPath().orElseThrow()));
    }

    /**
     * A driver's memory given to {@code clients} at {@code iova}, as the two ends of a migration on
     * one host share it: one memfd mapped by all ({@code byFd}), or plain memory the servers reach
     * only by DMA messages. Closed with the rest.
     */
    public MemorySegment sharedMemory(long iova, long size, boolean byFd, VfioUserClient... clients) throws IOException {
        int rw = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
        if (byFd) {
            Fd memfd = Memfd.create("driver-memory", size);
            closeLater(memfd::close);
            Mapping mapping = closeLater(Mapping.map(memfd, 0, size, true));
            for (VfioUserClient c : clients) {
                c.dmaMap(iova, size, rw, memfd, 0);
            }
            return mapping.segment();
        }
        Arena arena = Arena.ofShared();
        closeLater(arena::close);
        MemorySegment memory = arena.allocate(size, 4096);
        for (VfioUserClient c : clients) {
            c.registerMemory(iova, memory, rw);
        }
        return memory;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        fdsBefore = Fd.openFdCountOfProcess();   // after JUnit's own lazy set-up for the test, as a @BeforeEach would
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        close();
    }

    /** Closes {@code resource} with the rest, before anything opened earlier. */
    public <T extends AutoCloseable> T closeLater(T resource) {
        opened.push(resource);
        return resource;
    }

    @Override
    public void close() throws Exception {
        while (!opened.isEmpty()) {
            opened.pop().close();
        }
        if (ownsDir) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
        assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
    }
}
