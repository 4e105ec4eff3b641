package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.linux.Fd;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.UnaryOperator;

/**
 * jvfio's NVMe controller served on a real vfio-user socket in a test's directory, with a client
 * connected to it and image files as namespaces; {@link #close()} closes what was opened, newest
 * first, and checks that no fd was left open.
 */
final class ServedNvme implements AutoCloseable {
    static final long DISK = 8 << 20;

    final Path dir;
    final NvmeController controller;
    final VfioUserClient client;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private final int fdsBefore = Fd.openFdCountOfProcess();

    /** One namespace of {@link #DISK} bytes per entry of {@code imageNames}; {@code configure} sets the rest. */
    ServedNvme(Path dir, UnaryOperator<NvmeController.Builder> configure, String... imageNames) throws Exception {
        this.dir = dir;
        NvmeController.Builder builder = NvmeController.builder().serial("JVDRV0001").model("jvfio driver test").firmware("2.0");
        for (String name : imageNames) {
            builder.namespace(BlockImage.open(dir.resolve(name), DISK, false));
        }
        controller = configure.apply(builder).build();
        opened.push(controller::shutdown);
        VfioUserServer server = VfioUserServer.bind(dir.resolve("nvme.sock"), controller, ServerOptions.defaults());
        opened.push(server);
        server.start();
        client = VfioUserClient.connect(server.socketPath().orElseThrow());
        opened.push(client);
    }

    ServedNvme(Path dir) throws Exception {
        this(dir, b -> b, "disk.img");
    }

    /** A driver on the served controller, closed with the rest (before the client). */
    NvmeDriver open(NvmeDriver.Options options) throws Exception {
        return closeLater(NvmeDriver.open(client, options));
    }

    /** {@code length} bytes at {@code offset} of the image file {@code name}, as the file holds them (zeroes past its end). */
    byte[] imageBytes(String name, long offset, int length) throws IOException {
        try (FileChannel image = FileChannel.open(dir.resolve(name))) {
            ByteBuffer bytes = ByteBuffer.allocate(length);
            while (bytes.hasRemaining() && image.read(bytes, offset + bytes.position()) >= 0) {
                // read to the end
            }
            return bytes.array();
        }
    }

    /** Closes {@code resource} with the rest, before anything opened earlier. */
    <T extends AutoCloseable> T closeLater(T resource) {
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
