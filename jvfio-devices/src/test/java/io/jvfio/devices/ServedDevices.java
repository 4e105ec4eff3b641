package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.Fd;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
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
