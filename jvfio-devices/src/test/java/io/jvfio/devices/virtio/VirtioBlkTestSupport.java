package io.jvfio.devices.virtio;

import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Path;

final class VirtioBlkTestSupport {
    private VirtioBlkTestSupport() {}

    static VfioUserServer serve(Path dir, VirtioBlk disk) throws Exception {
        VfioUserServer server = VfioUserServer.bind(dir.resolve("blk.sock"), disk, ServerOptions.defaults());
        server.start();
        return server;
    }

    static void awaitNoClient(VfioUserServer server) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (server.hasClient() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }
}
