package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.UserspaceVirtioDriver.MEMORY_IOVA;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.MEMORY_SIZE;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.ServedDevices;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Live upgrade of a virtio-blk server (two servers in one JVM sharing the image) while a userspace
 * driver keeps block requests in flight on the one connection it opened: every request completes
 * exactly once with its data intact, and the image holds exactly what the driver wrote.
 */
class VirtioBlkLiveUpgradeTest {
    private static final int UPGRADES = 5;

    @RegisterExtension
    final ServedDevices devices = new ServedDevices();

    private VirtioBlk disk(Path image, long createSize) throws Exception {
        VirtioBlk.Builder b = VirtioBlk.builder(image).serial("upgraded");
        VirtioBlk disk = (createSize > 0 ? b.create(createSize) : b).build();
        devices.closeLater(disk::shutdown);
        return disk;
    }

    @Test
    void everyRequestCompletesOnceAcrossRepeatedUpgrades() throws Exception {
        Path image = devices.dir().resolve("disk.img"), socket = devices.dir().resolve("blk.sock"),
                control = devices.dir().resolve("blk.ctl");
        VfioUserServer old = devices.closeLater(VfioUserServer.bind(socket, disk(image, VirtioBlkMigrationTest.DISK),
                ServerOptions.defaults()));
        old.offerHandover(control);
        old.start();
        VfioUserClient client = devices.closeLater(VfioUserClient.connect(socket));
        VirtioBlkMigrationTest.BlockDriver io = VirtioBlkMigrationTest.BlockDriver.start(client,
                devices.sharedMemory(MEMORY_IOVA, MEMORY_SIZE, true, client), devices);
        try {
            io.awaitCompleted(200);
            for (int u = 0; u < UPGRADES; u++) {
                VfioUserServer next = devices.closeLater(VfioUserServer.takeOver(control, disk(image, 0), ServerOptions.defaults()));
                next.offerHandover(control);
                next.start();
                VfioUserServer previous = old;
                assertThat(Await.until(Duration.ofSeconds(30), previous::handedOver)).isTrue();
                previous.close();
                io.awaitCompleted(io.completed() + 100); // the same rings, served by the new process
                old = next;
            }
        } finally {
            io.stop();
        }
        io.assertEveryRequestCompletedOnceAndIntact();
        assertThat(Arrays.equals(Files.readAllBytes(image), io.expectedImage())).as("the image holds what the driver wrote").isTrue();
        assertThat(old.stats().connections()).as("the connection was taken over, not made again").isZero();
    }
}
