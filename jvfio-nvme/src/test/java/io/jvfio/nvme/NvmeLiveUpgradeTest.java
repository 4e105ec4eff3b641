package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.linux.Fd;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Live upgrade of the NVMe controller's server (two servers in one JVM, sharing the image file as
 * two processes would) under the Java NVMe driver doing I/O: the driver's client stays connected,
 * its queues (in the migration stream) keep working through each upgrade, and every block written
 * before an upgrade reads back after it.
 */
class NvmeLiveUpgradeTest {
    private static final int NSID = 1, BLOCK = 512, BLOCKS_PER_WRITE = 8, WRITE = BLOCK * BLOCKS_PER_WRITE;
    /**
     * The driver writes round the disk until the upgrades are done, and every run goes round it at
     * least once: a driver that stopped after one pass fell idle before the last upgrades on a
     * loaded machine (the successor then waited 30 s for a first command that never came). 255, not
     * a multiple of the patterns' period (256): a slot's last write differs from the one a round before.
     */
    private static final int SLOTS = 255;
    private static final long DISK = (long) SLOTS * WRITE;
    private static final int UPGRADES = 10;
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private int fdsBefore;

    @BeforeEach
    void countFds() {
        fdsBefore = Fd.openFdCountOfProcess(); // after the temporary directory (its random name opens /dev/urandom once)
    }

    @AfterEach
    void closeAll() throws Exception {
        while (!opened.isEmpty()) {
            opened.pop().close();
        }
        assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        opened.push(resource);
        return resource;
    }

    private NvmeController controller(long createSize) throws Exception {
        NvmeController nvme = NvmeController.builder().namespace(BlockImage.open(dir.resolve("disk.img"), createSize, false))
                .serial("UPGRADED").build();
        closeLater(nvme::shutdown);
        return nvme;
    }

    private static void await(Await.Condition condition) throws Exception {
        assertThat(Await.until(WAIT, condition)).as("waited %s", WAIT).isTrue();
    }

    /** Where write number {@code n} goes: slot after slot, round the disk. */
    private static long firstBlock(int n) {
        return (long) (n % SLOTS) * BLOCKS_PER_WRITE;
    }

    /** The byte every block of write number {@code n} is filled with. */
    private static byte pattern(int n) {
        return (byte) (n * 31 + 7);
    }

    /**
     * {@code interrupts}: completions by MSI-X, memory shared by fd; {@code polling}: completions
     * polled; {@code dma-messages}: memory given without an fd, so every queue entry and data
     * buffer travels by DMA_READ/DMA_WRITE and the device stops while the session reads their replies.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"interrupts", "polling", "dma-messages"})
    void theDriversQueuesKeepWorkingAcrossRepeatedUpgrades(String mode) throws Exception {
        Path socket = dir.resolve("nvme.sock"), control = dir.resolve("nvme.ctl");
        VfioUserServer old = closeLater(VfioUserServer.bind(socket, controller(DISK), ServerOptions.defaults()));
        old.offerHandover(control);
        old.start();
        VfioUserClient client = closeLater(VfioUserClient.connect(socket));
        NvmeDriver driver = closeLater(NvmeDriver.open(client, NvmeDriver.Options.defaults()
                .withInterrupts(mode.equals("interrupts")).withSharedMemory(!mode.equals("dma-messages")).withTimeouts(WAIT, WAIT)));
        // As Linux's driver does: the successors must go on from the tails the driver stores in the shadow slots.
        assertThat(driver.shadowDoorbells()).as("the driver uses shadow doorbells (Doorbell Buffer Config)").isTrue();

        // The driver writes slot after slot, round and round, each write with its own pattern, and reads each back at once.
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger written = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread io = Thread.ofPlatform().name("nvme-driver-io").start(() -> {
            try {
                IoQueue queue = driver.ioQueue();
                DmaRegion buffer = driver.allocateBuffer(WRITE);
                for (int n = 0; !stop.get(); n++) {
                    buffer.segment().fill(pattern(n));
                    queue.write(NSID, firstBlock(n), BLOCKS_PER_WRITE, buffer);
                    buffer.segment().fill((byte) 0);
                    queue.read(NSID, firstBlock(n), BLOCKS_PER_WRITE, buffer);
                    byte expected = pattern(n);
                    for (int i = 0; i < WRITE; i++) {
                        if (buffer.segment().get(ValueLayout.JAVA_BYTE, i) != expected) {
                            throw new AssertionError("write %d read back 0x%x at byte %d".formatted(n, buffer.segment().get(ValueLayout.JAVA_BYTE, i), i));
                        }
                    }
                    written.set(n + 1);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            List<Long> pauses = new ArrayList<>();
            for (int u = 0; u < UPGRADES; u++) {
                int before = written.get();
                await(() -> written.get() >= before + 20 || failure.get() != null);
                assertThat(failure.get()).as("the driver's I/O before upgrade %d", u + 1).isNull();
                VfioUserServer next = closeLater(VfioUserServer.takeOver(control, controller(0), ServerOptions.defaults()));
                next.offerHandover(control);
                next.start();
                await(old::handedOver);
                old.close();
                await(() -> next.handoverPauseNanos().isPresent());
                pauses.add(next.handoverPauseNanos().getAsLong());
                old = next;
            }
            int before = written.get();
            await(() -> written.get() >= Math.max(before + 20, SLOTS + 1) || failure.get() != null);
            printPauses("NVMe (" + mode + ")", pauses);
        } finally {
            stop.set(true);
            io.join(WAIT.toMillis());
        }
        assertThat(failure.get()).as("the driver's I/O: no error, no disconnect, every read as written").isNull();

        // The last write of every slot reads back through the last server, and the last write of all is in the image file.
        int total = written.get();
        DmaRegion buffer = driver.allocateBuffer(WRITE);
        IoQueue queue = driver.ioQueue();
        for (int n = total - SLOTS; n < total; n++) {
            queue.read(NSID, firstBlock(n), BLOCKS_PER_WRITE, buffer);
            assertThat(buffer.segment().toArray(ValueLayout.JAVA_BYTE)).as("write %d", n).containsOnly(pattern(n));
        }
        try (FileChannel image = FileChannel.open(dir.resolve("disk.img"))) {
            ByteBuffer bytes = ByteBuffer.allocate(WRITE);
            image.read(bytes, firstBlock(total - 1) * BLOCK);
            assertThat(bytes.array()).as("the last write, in the image").containsOnly(pattern(total - 1));
        }
        assertThat(old.stats().connections()).as("the last server took the connection over, none was made").isZero();
        driver.close(); // its shutdown handshake, with the last server
        assertThat(old.device()).isInstanceOfSatisfying(NvmeController.class,
                c -> assertThat(c.status() & 0xc).as("CSTS.SHST: shutdown complete").isEqualTo(0x8));
    }

    static void printPauses(String device, List<Long> nanos) {
        List<Long> sorted = nanos.stream().sorted().toList();
        System.out.printf("live upgrade of %s, %d upgrades: pause (old server's last command handled to new server's first) min %.2f ms, median %.2f ms, max %.2f ms%n",
                device, sorted.size(), sorted.getFirst() / 1e6, sorted.get(sorted.size() / 2) / 1e6, sorted.getLast() / 1e6);
    }
}
