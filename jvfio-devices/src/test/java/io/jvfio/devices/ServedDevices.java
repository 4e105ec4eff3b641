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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Devices served on sockets in a test's directory, each with a connected client, and whatever
 * else the test opens; {@link #close()} closes it all, newest first, and checks that the process
 * has no more open fds than when this was made.
 */
public final class ServedDevices implements AutoCloseable {
    private final Path dir;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private final int fdsBefore = Fd.openFdCountOfProcess();

    public ServedDevices(Path dir) {
        this.dir = dir;
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
        assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
    }
}
