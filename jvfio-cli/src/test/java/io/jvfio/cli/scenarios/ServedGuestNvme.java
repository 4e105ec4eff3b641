package io.jvfio.cli.scenarios;

import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.GuestTests;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/**
 * A Java NVMe controller served on a vfio-user socket for a guest test, in a fresh directory under
 * the guest toolchain's run root (its images, socket and initramfs go there); {@link #close()} stops
 * the server and the controller and deletes the directory.
 */
record ServedGuestNvme(GuestToolchain toolchain, Path dir, NvmeController controller, VfioUserServer server)
        implements AutoCloseable {

    /** Builds the controller, given the directory for its images. */
    interface Controller {
        NvmeController build(Path dir) throws IOException;
    }

    /** Skips or fails the calling test as {@link GuestTests#requireToolchain} decides when there is no toolchain. */
    static ServedGuestNvme start(String name, Controller controller) throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        GuestToolchain toolchain = GuestToolchain.locate();
        Path dir = Files.createDirectories(toolchain.runRoot().resolve(name + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
        NvmeController nvme = null;
        try {
            nvme = controller.build(dir);
            VfioUserServer server = VfioUserServer.bind(dir.resolve("nvme.sock"), nvme, ServerOptions.defaults());
            server.start();
            return new ServedGuestNvme(toolchain, dir, nvme, server);
        } catch (Exception | Error e) {
            if (nvme != null) {
                nvme.shutdown();
            }
            delete(dir);
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        controller.shutdown();
        delete(dir);
    }

    private static void delete(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
