package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Fd;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** Serves test devices on sockets in a temporary directory and checks that no fd outlives a test. */
abstract class ClientTestSupport {
    static final Duration BOUND = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private int fdsBefore;
    private final Deque<AutoCloseable> cleanup = new ArrayDeque<>();
    private int sockets;

    @BeforeEach
    void countFds() {
        fdsBefore = Fd.openFdCountOfProcess();
    }

    @AfterEach
    void cleanUpAndCheckFds() throws Exception {
        while (!cleanup.isEmpty()) {
            cleanup.pop().close();
        }
        assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
    }

    /** Closed at the end of the test, last registered first. */
    <T extends AutoCloseable> T later(T resource) {
        cleanup.push(resource);
        return resource;
    }

    TestDevice device() {
        TestDevice d = new TestDevice();
        later(d::dispose);
        return d;
    }

    VfioUserServer serve(VfioDevice device) throws Exception {
        return serve(device, ServerOptions.defaults());
    }

    VfioUserServer serve(VfioDevice device, ServerOptions options) throws Exception {
        VfioUserServer server = VfioUserServer.bind(dir.resolve("dev" + sockets++ + ".sock"), device, options);
        server.start();
        return later(server);
    }

    static ServerOptions serverOptions(int maxDataXferSize, int maxMsgFds) {
        return new ServerOptions(0600, maxDataXferSize, maxMsgFds, 1024, Duration.ofSeconds(10), Optional.empty());
    }

    VfioUserClient connect(VfioUserServer server) throws Exception {
        return connect(server, ClientOptions.defaults());
    }

    VfioUserClient connect(VfioUserServer server, ClientOptions options) throws Exception {
        return later(VfioUserClient.connect(server.socketPath().orElseThrow(), options));
    }
}
