package io.jvfio.devices.virtio;

import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.nio.file.Path;
import java.time.Duration;

final class VirtioBlkTestSupport {
    private VirtioBlkTestSupport() {}

    static VfioUserServer serve(Path dir, VirtioBlk disk) throws Exception {
        VfioUserServer server = VfioUserServer.bind(dir.resolve("blk.sock"), disk, ServerOptions.defaults());
        server.start();
        return server;
    }

    static void awaitNoClient(VfioUserServer server) throws Exception {
        Await.until(Duration.ofSeconds(5), () -> !server.hasClient());
    }
}
