package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.devices.nvme.CommandDrops;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.BlockStore;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Timeouts, Aborts and controller resets, and asynchronous events, against jvfio's controller made
 * to drop commands ({@link CommandDrops}): a dropped command is aborted and completes with Command
 * Abort Requested; one whose Abort goes unanswered is taken by a reset, after which every thread's
 * queue works again and the data written before is still there; events raised on the controller
 * reach the caller with their log pages. Timeouts are short; nothing asserts how long anything took.
 */
class NvmeRecoveryTest {
    private static final int NSID = 1, BLOCK = 512, READ = 0x02, ABORT = 0x08;
    private static final Duration SHORT = Duration.ofMillis(300), WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    ServedNvme served;

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
    }

    private NvmeDriver open(Duration ioTimeout, Duration adminTimeout) throws Exception {
        served = new ServedNvme(dir);
        return served.closeLater(NvmeDriver.open(served.client, NvmeDriver.Options.defaults().withTimeouts(ioTimeout,
                adminTimeout)));
    }

    /** Statuses by tag as a listener hears them. */
    private static final class Heard implements CompletionListener {
        final List<long[]> completions = new ArrayList<>();

        @Override
        public void completed(long tag, int status, int result) {
            completions.add(new long[] {tag, status});
        }

        /** Awaits completions on {@code queue} until {@code count} were heard. */
        Heard awaitOn(IoQueue queue, int count) throws Exception {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (completions.size() < count && System.nanoTime() - deadline < 0) {
                queue.await(this, Duration.ofMillis(50));
            }
            assertThat(completions).as("completions heard").hasSize(count);
            return this;
        }
    }

    private static DmaRegion pattern(NvmeDriver driver, int blocks, int seed) throws Exception {
        DmaRegion buffer = driver.allocateBuffer((long) blocks * BLOCK);
        for (int i = 0; i < blocks * BLOCK; i++) {
            buffer.segment().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return buffer;
    }

    /** Writes a pattern of {@code blocks} at {@code lba} through the calling thread's queue; returns the data written. */
    static DmaRegion written(NvmeDriver driver, long lba, int blocks, int seed) throws Exception {
        DmaRegion data = pattern(driver, blocks, seed);
        driver.ioQueue().write(NSID, lba, blocks, data);
        return data;
    }

    /** Reads the blocks of {@code expected} at {@code lba} through the calling thread's queue and compares them. */
    static void assertReadsBack(NvmeDriver driver, long lba, DmaRegion expected) throws Exception {
        int blocks = (int) (expected.segment().byteSize() / BLOCK);
        DmaRegion read = driver.allocateBuffer(expected.segment().byteSize());
        driver.ioQueue().read(NSID, lba, blocks, read);
        assertThat(read.segment().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(expected.segment().toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void aDroppedReadIsAbortedAndCompletesWithCommandAbortRequested() throws Exception {
        NvmeDriver driver = open(SHORT, WAIT);
        IoQueue queue = driver.ioQueue();
        DmaRegion written = written(driver, 0, 8, 1);
        DmaRegion read = driver.allocateBuffer(8 * BLOCK);

        served.controller.faults().commandDrops().drop(queue.id(), READ, 1);
        queue.submitRead(NSID, 0, 8, read, 42);
        Heard heard = new Heard().awaitOn(queue, 1);
        assertThat(heard.completions.getFirst()).containsExactly(42, NvmeStatus.ABORT_REQUESTED);
        assertThat(served.controller.faults().commandDrops().withheldCount()).isZero();

        served.controller.faults().commandDrops().drop(queue.id(), READ, 1);   // a blocking call: the status as an exception
        assertThatThrownBy(() -> queue.read(NSID, 0, 8, read)).isInstanceOfSatisfying(NvmeException.class, e -> {
            assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_GENERIC);
            assertThat(e.statusCode()).isEqualTo(0x07);
            assertThat(e.getMessage()).contains("Command Abort Requested");
        });

        assertReadsBack(driver, 0, written);   // nothing left to drop: the queue goes on
    }

    @Test
    void anUnansweredAbortResetsTheControllerAndEveryQueueWorksAgain() throws Exception {
        NvmeDriver driver = open(SHORT, Duration.ofSeconds(1));
        IoQueue queue = driver.ioQueue();
        DmaRegion written = written(driver, 100, 16, 2);
        try (ExecutorService other = Executors.newSingleThreadExecutor()) {
            // A second thread's queue, created before the reset.
            DmaRegion otherWritten = other.submit(() -> written(driver, 200, 4, 3)).get();

            CommandDrops drops = served.controller.faults().commandDrops();
            drops.drop(queue.id(), READ, 1);
            drops.aborts(CommandDrops.Aborts.UNANSWERED);
            queue.submitRead(NSID, 100, 16, driver.allocateBuffer(16 * BLOCK), 7);
            Heard heard = new Heard().awaitOn(queue, 1);
            assertThat(heard.completions.getFirst()).containsExactly(7, NvmeStatus.HOST_ABORTED);
            assertThat(drops.withheldCount()).as("the reset forgot the dropped read").isZero();
            drops.aborts(CommandDrops.Aborts.HONOURED);

            assertReadsBack(driver, 100, written);
            other.submit(() -> {
                assertReadsBack(driver, 200, otherWritten);   // the same IoQueue object, created again at the controller
                return null;
            }).get();
        }
    }

    @Test
    void aCommandThatOutlivesItsAbortIsTakenByAReset() throws Exception {
        NvmeDriver driver = open(SHORT, WAIT);
        IoQueue queue = driver.ioQueue();
        DmaRegion written = written(driver, 40, 8, 6);
        CommandDrops drops = served.controller.faults().commandDrops();
        drops.drop(queue.id(), READ, 1);
        drops.aborts(CommandDrops.Aborts.REFUSED);
        DmaRegion read = driver.allocateBuffer(8 * BLOCK);
        assertThatThrownBy(() -> queue.read(NSID, 40, 8, read)).isInstanceOfSatisfying(NvmeException.class, e -> {
            assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_PATH);
            assertThat(e.statusCode()).isEqualTo(0x71);
            assertThat(e.getMessage()).contains("Command Aborted By Host");
        });
        assertThat(driver.resets().generation()).as("resets").isEqualTo(1);
        assertThat(drops.withheldCount()).isZero();
        assertReadsBack(driver, 40, written);
    }

    @Test
    void aResetTakesTheOutstandingCommandsAndKeepsEventsRequested() throws Exception {
        NvmeDriver driver = open(WAIT, WAIT);
        IoQueue queue = driver.ioQueue();
        DmaRegion written = written(driver, 8, 8, 4);
        served.controller.faults().commandDrops().drop(queue.id(), READ, 1);
        queue.submitRead(NSID, 8, 8, driver.allocateBuffer(8 * BLOCK), 9);
        while (served.controller.faults().commandDrops().withheldCount() == 0) {
            Thread.onSpinWait();   // the controller fetched it
        }

        driver.reset();
        assertThat(served.controller.status() & 3).as("CSTS: ready, no fatal status").isEqualTo(1);
        Heard heard = new Heard();
        assertThat(queue.poll(heard)).isEqualTo(1);
        assertThat(heard.completions.getFirst()).containsExactly(9, NvmeStatus.HOST_ABORTED);
        assertReadsBack(driver, 8, written);

        served.controller.asyncEvents().criticalWarning(0x04);   // reliability degraded
        assertThat(driver.awaitEvents(WAIT)).singleElement().satisfies(event -> {
            assertThat(event.type()).isEqualTo(AsyncEvent.SMART_HEALTH);
            assertThat(event.logPage()).isEqualTo(0x02);
        });
    }

    @Test
    void anAdminCommandThatTimesOutResetsTheController() throws Exception {
        NvmeDriver driver = open(WAIT, SHORT);
        DmaRegion written = written(driver, 0, 8, 5);
        served.controller.faults().commandDrops().drop(0, ABORT, 1);
        driver.resets().abort(driver.ioQueue().id(), 0);   // unanswered within the admin timeout: the controller is reset
        assertThat(driver.resets().generation()).as("resets").isEqualTo(1);
        assertReadsBack(driver, 0, written);
    }

    @Test
    void reportsCriticalWarningsWithTheSmartLog() throws Exception {
        NvmeDriver driver = open(WAIT, WAIT);
        assertThat(driver.pollEvents()).isEmpty();
        served.controller.asyncEvents().criticalWarning(0x01);   // spare below threshold
        List<AsyncEvent> events = driver.awaitEvents(WAIT);
        assertThat(events).singleElement().satisfies(event -> {
            assertThat(event.type()).isEqualTo(AsyncEvent.SMART_HEALTH);
            assertThat(event.info()).isEqualTo(0x02);   // Spare Below Threshold
            assertThat(event.logPage()).isEqualTo(0x02);
            assertThat(event.log()).hasSize(512);
            assertThat(event.log()[0] & 0x01).as("the SMART log's critical warning").isEqualTo(1);
        });

        served.controller.asyncEvents().criticalWarning(0x08);   // read only: reported once the first was acknowledged
        assertThat(driver.awaitEvents(WAIT)).singleElement().satisfies(event -> {
            assertThat(event.type()).isEqualTo(AsyncEvent.SMART_HEALTH);
            assertThat(event.log()[0] & 0x09).isEqualTo(0x09);
        });
    }

    @Test
    void aNamespaceChangeIsReportedAndTheNamespacesRescanned() throws Exception {
        NvmeDriver driver = open(WAIT, WAIT);
        List<Namespace> before = driver.namespaces();
        served.controller.asyncEvents().namespacesChanged(NSID);
        assertThat(driver.awaitEvents(WAIT)).singleElement().satisfies(event -> {
            assertThat(event.isNamespaceChange()).isTrue();
            assertThat(event.logPage()).isEqualTo(0x04);
            assertThat(event.log()).hasSize(4096);
            assertThat(event.log()[0]).as("the Changed Namespace List names namespace 1").isEqualTo((byte) NSID);
        });
        assertThat(driver.namespaces()).isEqualTo(before).isNotSameAs(before);
    }

    @Test
    void aNamespaceAttachedAtRunTimeIsFoundByTheRescanAndGoneAfterItsDetach() throws Exception {
        served = new ServedNvme(dir, builder -> builder.maxNamespaces(2), "disk.img");
        NvmeDriver driver = served.open(NvmeDriver.Options.defaults().withTimeouts(WAIT, WAIT));
        assertThat(driver.controller().namespaceCount()).as("NN").isEqualTo(2);
        assertThat(driver.namespaces()).extracting(Namespace::nsid).containsExactly(NSID);

        BlockStore second = BlockImage.open(dir.resolve("second.img"), ServedNvme.DISK, false);
        assertThat(served.controller.attachNamespace(second)).isEqualTo(2);
        assertThat(driver.awaitEvents(WAIT)).singleElement().satisfies(event -> {
            assertThat(event.isNamespaceChange()).isTrue();
            assertThat(event.log()[0]).as("the Changed Namespace List names namespace 2").isEqualTo((byte) 2);
        });
        assertThat(driver.namespaces()).extracting(Namespace::nsid).containsExactly(NSID, 2);
        assertThat(driver.namespace(2).sizeBlocks()).isEqualTo(ServedNvme.DISK / BLOCK);
        DmaRegion data = pattern(driver, 8, 2);
        driver.ioQueue().write(2, 16, 8, data);
        byte[] expected = data.segment().toArray(ValueLayout.JAVA_BYTE);
        assertThat(served.imageBytes("second.img", 16 * BLOCK, 8 * BLOCK)).isEqualTo(expected);
        DmaRegion back = driver.allocateBuffer(8 * BLOCK);
        driver.ioQueue().read(2, 16, 8, back);
        assertThat(back.segment().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(expected);

        assertThat(served.controller.detachNamespace(2)).as("the store given back").isSameAs(second);
        second.close();
        // Before the driver has heard of the detach, the controller answers for the namespace.
        assertThatThrownBy(() -> driver.ioQueue().read(2, 16, 8, back)).isInstanceOfSatisfying(NvmeException.class, e -> {
            assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_GENERIC);
            assertThat(e.statusCode()).as("Invalid Namespace or Format").isEqualTo(0x0b);
            assertThat(e.doNotRetry()).isTrue();
        });
        assertThat(driver.awaitEvents(WAIT)).singleElement().satisfies(event -> assertThat(event.log()[0]).isEqualTo((byte) 2));
        assertThat(driver.namespaces()).extracting(Namespace::nsid).containsExactly(NSID);
        driver.ioQueue().read(NSID, 16, 8, back);
    }
}
