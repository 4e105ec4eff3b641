package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.virtio.NotifyMode;
import io.jvfio.protocol.Command;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.testing.GuestTests;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real Linux guest in QEMU 11.1 uses the Java virtio-blk disk through its own virtio_blk
 * driver: sees /dev/vda with the right size, makes ext4, writes files, syncs, reboots and finds
 * them intact; the host then finds a clean file system with the same bytes in the image file.
 * And a server killed right after the guest's sync loses nothing that was synced. Each with and
 * without shared guest memory (fd-mapped DMA vs DMA_READ/DMA_WRITE messages). And once with the
 * notify page mapped into the guest and polled by the device.
 */
class VirtioBlkGuestTest {
    private VirtioBlkGuestScenario scenario;

    @BeforeEach
    void requireToolchain() {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
    }

    private void serve(NotifyMode notifyMode) throws Exception {
        scenario = new VirtioBlkGuestScenario(GuestToolchain.locate(), line -> System.out.println("[virtio-blk] " + line),
                notifyMode);
    }

    @AfterEach
    void stop() {
        if (scenario != null) {
            scenario.close();
        }
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void aFileSystemOnTheJavaDiskSurvivesARebootAndIsCleanOnTheHost(boolean sharedMemory) throws Exception {
        serve(NotifyMode.TRAPPED);
        var options = scenario.guestOptions(sharedMemory).allowReboot(true).bootsToRun(2).appendKernelArgs("jvfio.reboot-once");
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), options)) {
            result = scenario.run(guest);
        }
        System.out.println(result.console());
        assertThat(result.boots()).as(result.describe()).isEqualTo(2);
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.results()).contains("driver virtio_blk",
                "sectors " + VirtioBlkGuestScenario.DISK_BYTES / 512, "serial jvfio-guest-disk",
                "synced", "unmounted", "e2fsck clean boot=2", "checksums match boot=2");
        Map<String, String> guestSums = VirtioBlkGuestScenario.guestSums(result);
        assertThat(guestSums).hasSize(5);

        var stats = scenario.server().stats();
        assertThat(stats.count(Command.DEVICE_RESET)).as("reset at reboot").isPositive();
        if (sharedMemory) {
            assertThat(stats.mappedDmaWindows()).isPositive();
        } else {
            assertThat(stats.mappedDmaWindows()).isZero();
        }

        // The guest is gone: the image alone must hold a clean file system with the same bytes.
        var fsck = VirtioBlkGuestScenario.e2fsck(scenario.image());
        assertThat(fsck.exitCode()).as(fsck.output()).isZero();
        var ls = VirtioBlkGuestScenario.debugfs(scenario.image(), "ls -l /");
        assertThat(ls.output()).contains("SHA256SUMS").contains(guestSums.keySet());
        assertThat(VirtioBlkGuestScenario.imageSums(scenario.image(), guestSums.keySet(), scenario.scratch()))
                .isEqualTo(guestSums);
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void everySyncedByteIsInTheImageWhenTheServerDiesRightAfterSync(boolean sharedMemory) throws Exception {
        serve(NotifyMode.TRAPPED);
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(),
                scenario.guestOptions(sharedMemory).appendKernelArgs("jvfio.blk=kill"))) {
            result = scenario.runAndKillServerAfterSync(guest);
        }
        assertThat(result.results()).as(result.describe()).contains("synced");
        Map<String, String> guestSums = VirtioBlkGuestScenario.guestSums(result);
        assertThat(guestSums).hasSize(5);

        // Mounted when the server died: replay the journal on a copy, as the next mount would.
        var copy = scenario.scratch().resolve("recovered.img");
        var recovery = VirtioBlkGuestScenario.recoverCopy(scenario.image(), copy);
        assertThat(recovery.exitCode()).as(recovery.output()).isLessThanOrEqualTo(1);
        var fsck = VirtioBlkGuestScenario.e2fsck(copy);
        assertThat(fsck.exitCode()).as(fsck.output()).isZero();
        assertThat(VirtioBlkGuestScenario.imageSums(copy, guestSums.keySet(), scenario.scratch())).isEqualTo(guestSums);
    }

    /**
     * With {@link NotifyMode#POLLED} QEMU maps the notify page (a SPARSE_MMAP area of BAR 4) into
     * the guest, whose virtio_blk then notifies with plain stores the device polls. One boot.
     */
    @Test
    void aGuestNotifiesThroughTheMappedNotifyPageOfPolledMode() throws Exception {
        serve(NotifyMode.POLLED);
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(true))) {
            result = scenario.run(guest);
        }
        System.out.println(result.console());
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.results()).contains("driver virtio_blk",
                "sectors " + VirtioBlkGuestScenario.DISK_BYTES / 512, "serial jvfio-guest-disk", "synced", "unmounted");
        assertThat(scenario.disk().polledNotifications()).as("notifies taken from the page QEMU mapped").isPositive();
        Map<String, String> guestSums = VirtioBlkGuestScenario.guestSums(result);
        assertThat(guestSums).hasSize(5);

        var fsck = VirtioBlkGuestScenario.e2fsck(scenario.image());
        assertThat(fsck.exitCode()).as(fsck.output()).isZero();
        assertThat(VirtioBlkGuestScenario.imageSums(scenario.image(), guestSums.keySet(), scenario.scratch()))
                .isEqualTo(guestSums);
    }
}
