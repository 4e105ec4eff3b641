package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Shadow doorbells (Doorbell Buffer Config, OACS bit 8) as Linux's nvme driver uses them for I/O
 * queues: the driver stores each new tail in the shadow buffer and rings the trapped doorbell
 * only when the tail passes the EventIdx the controller published; commands stored without a
 * ring complete, trapped doorbells keep working, bad buffers are refused and resets forget them.
 */
class NvmeShadowDoorbellTest {
    static final long DISK = 8 << 20;
    static final int QID = 1;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    NvmeController nvme;
    VfioUserClient client;
    UserspaceNvmeDriver d;
    long shadow, eventIdx;

    void serve(boolean shared) throws Exception {
        nvme = NvmeController.builder().namespace(BlockImage.open(dir.resolve("disk.img"), DISK, false)).build();
        NvmeController controller = nvme;
        served.closeLater(controller::shutdown);
        client = served.serve(nvme, "nvme.sock");
        d = served.closeLater(new UserspaceNvmeDriver(client, shared));
        shadow = d.alloc(4096);
        eventIdx = d.alloc(4096);
    }

    /** An enabled controller (with MSI-X, or INTx) with one 16-entry I/O queue pair and shadow doorbells configured. */
    UserspaceNvmeDriver.Queue queueWithShadowDoorbells(boolean shared, boolean msix) throws Exception {
        serve(shared);
        if (msix) {
            d.enableMsix(2);
        }
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(eventIdx)), SC_SUCCESS);
        return q;
    }

    UserspaceNvmeDriver.Completion doorbellBufferConfig(long prp1, long prp2) throws Exception {
        return d.admin().submit(ADMIN_DOORBELL_BUFFER_CONFIG, 0, e -> {
            e.set(U64, SQE_PRP1, prp1);
            e.set(U64, SQE_PRP2, prp2);
        });
    }

    int shadowSlot(long buffer, int slot) {
        VarHandle.fullFence();
        return d.memory.get(U32, buffer + (long) slot * DOORBELL_STRIDE);
    }

    /** Linux's nvme_dbbuf_need_event: ring when EventIdx lies in [old, new) modulo 2^16. */
    static boolean needsRing(int eventIdx, int newIndex, int oldIndex) {
        return (newIndex - eventIdx - 1 & 0xffff) < (newIndex - oldIndex & 0xffff);
    }

    /** Linux's nvme_write_sq_db with a shadow buffer: store the tail, then ring only if EventIdx asks; true if it rang. */
    boolean storeTail(UserspaceNvmeDriver.Queue q, int oldTail) throws Exception {
        VarHandle.fullFence();
        d.memory.set(U32, shadow + 2L * q.id * DOORBELL_STRIDE, q.tail);
        if (needsRing(shadowSlot(eventIdx, 2 * q.id), q.tail, oldTail)) {
            q.ring();
            return true;
        }
        return false;
    }

    int read(UserspaceNvmeDriver.Queue q, long data, int block) {
        return q.put(IO_READ, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(data) + (block & 7) * 512L);
            e.set(U64, SQE_CDW10, block);
        });
    }

    void awaitCompletions(UserspaceNvmeDriver.Queue q, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            UserspaceNvmeDriver.Completion c = q.poll(Duration.ofSeconds(10));
            assertThat(c).as("completion %d of %d", i + 1, count).isNotNull();
            assertStatus(c, SC_SUCCESS);
        }
    }

    @ParameterizedTest(name = "shared memory: {0}")
    @ValueSource(booleans = {true, false})
    void commandsStoredOnlyInTheShadowBufferComplete(boolean shared) throws Exception {
        serve(shared);
        d.enableMsix(2);
        d.enable(32);
        long page = d.alloc(4096);
        assertStatus(d.identify(CNS_CONTROLLER, 0, page), SC_SUCCESS);
        assertThat(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, page + ID_CTRL_OACS) & OACS_DOORBELL_BUFFER_CONFIG)
                .as("OACS bit 8").isNotZero();
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 256);
        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(eventIdx)), SC_SUCCESS);
        DoorbellStatistics stats = nvme.doorbellStatistics();
        assertThat(stats.shadowConfigurations()).isEqualTo(1);
        long data = d.alloc(4096);

        // One command wakes the queue: EventIdx is 0, so the first store rings.
        int old = q.tail;
        read(q, data, 0);
        assertThat(storeTail(q, old)).as("the first store rings").isTrue();
        awaitCompletions(q, 1);
        // Once the worker has gone idle it publishes EventIdx at its head: the next store rings again.
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (shadowSlot(eventIdx, 2 * QID) != q.tail && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(shadowSlot(eventIdx, 2 * QID)).as("EventIdx after draining").isEqualTo(q.tail);

        // A batch, one store per command as Linux does it: only the first rings while the worker polls.
        int batch = 100, rings = 0;
        for (int i = 0; i < batch; i++) {
            old = q.tail;
            read(q, data, i);
            rings += storeTail(q, old) ? 1 : 0;
        }
        awaitCompletions(q, batch);
        assertThat(rings).as("trapped doorbells for %d commands", batch).isBetween(1, batch / 2);
        assertThat(stats.trappedSubmissionDoorbells()).isEqualTo(1 + rings);
        assertThat(stats.ioCommands()).isEqualTo(1 + batch);
    }

    /**
     * A trapped doorbell reaches the controller after the host stored it in the shadow slot; the
     * worker may have taken newer tails from the slot meanwhile. The late ring must not move the
     * tail back (the worker would run the ring's stale entries again: Linux saw "genctr mismatch").
     */
    @ParameterizedTest(name = "shared memory: {0}")
    @ValueSource(booleans = {true, false})
    void aLateTrappedDoorbellDoesNotMoveTheTailBack(boolean shared) throws Exception {
        UserspaceNvmeDriver.Queue q = queueWithShadowDoorbells(shared, false);
        long data = d.alloc(4096);
        for (int i = 0; i < 4; i++) {
            read(q, data, i);
        }
        storeTail(q, 0);
        q.ring();   // the worker takes tail 4 from the slot
        awaitCompletions(q, 4);

        client.write32(UserspaceNvmeDriver.BAR, DOORBELLS + 2L * QID * DOORBELL_STRIDE, 2);   // the ring of tail 2, late
        int cid = read(q, data, 4);
        storeTail(q, 4);
        q.ring();
        UserspaceNvmeDriver.Completion next = q.poll(Duration.ofSeconds(10));
        assertThat(next).isNotNull();
        assertThat(next.cid()).as("the completion after the late ring").isEqualTo(cid);
        assertStatus(next, SC_SUCCESS);
        assertThat(nvme.doorbellStatistics().ioCommands()).as("commands taken").isEqualTo(5);
    }

    /**
     * Linux stores its completion queue head in the shadow slot and rings only as it passes
     * EventIdx (0 until the queue first fills): once, at the first completion. After a lap the
     * controller finds the queue full by its own count, while the host has consumed everything and
     * its shadow head is back at 0 — the value the slot held at Doorbell Buffer Config. The next
     * completion must still be posted (it waited forever, and Linux timed the command out).
     */
    @Test
    void aFullCompletionQueueTakesTheShadowHeadWhenItCameRoundToItsFirstValue() throws Exception {
        UserspaceNvmeDriver.Queue q = queueWithShadowDoorbells(true, true);
        q.ringHead = newHead -> {
            VarHandle.fullFence();
            d.memory.set(U32, shadow + (2L * QID + 1) * DOORBELL_STRIDE, newHead);
            return needsRing(shadowSlot(eventIdx, 2 * QID + 1), newHead, (newHead + q.cqEntries - 1) % q.cqEntries);
        };
        long data = d.alloc(4096);
        for (int i = 0; i < q.cqEntries + 1; i++) {
            int old = q.tail;
            read(q, data, i);
            storeTail(q, old);
            awaitCompletions(q, 1);
        }
        assertThat(nvme.doorbellStatistics().trappedCompletionDoorbells()).as("trapped CQ head doorbells").isLessThan(q.cqEntries);
    }

    @Test
    void trappedDoorbellsKeepWorkingWithShadowBuffers() throws Exception {
        serve(true);
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(eventIdx)), SC_SUCCESS);
        long data = d.alloc(4096);
        // A host that never stores in the shadow buffer: every doorbell is trapped, every command completes.
        for (int i = 0; i < 40; i++) {
            assertStatus(d.io(q, IO_READ, 1, i, 1, d.iova(data), 0), SC_SUCCESS);
        }
        assertThat(nvme.doorbellStatistics().trappedSubmissionDoorbells()).isEqualTo(40);
        // Without MSI-X the CQ's EventIdx follows the last entry posted, so the host rings once it consumed them all.
        assertThat(shadowSlot(eventIdx, 2 * QID + 1)).as("CQ EventIdx").isEqualTo((40 - 1) % 16);
    }

    @Test
    void badBuffersAreAnInvalidField() throws Exception {
        serve(true);
        d.enable(32);
        d.createIoQueue(QID, 16);
        assertStatus(doorbellBufferConfig(d.iova(shadow) + 4, d.iova(eventIdx)), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(eventIdx) + 512), SC_INVALID_FIELD | STATUS_DNR);
        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(shadow)), SC_INVALID_FIELD | STATUS_DNR);
        // Page-aligned but not host memory.
        assertStatus(doorbellBufferConfig(0x4000_0000L, d.iova(eventIdx)), SC_DATA_TRANSFER_ERROR);
        assertThat(nvme.doorbellStatistics().shadowConfigurations()).isZero();
    }

    @Test
    void aResetForgetsTheShadowBuffers() throws Exception {
        serve(true);
        d.enable(32);
        d.createIoQueue(QID, 16);
        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(eventIdx)), SC_SUCCESS);
        d.enable(32);   // CC.EN 1→0→1
        assertShadowStoresAreIgnored("after CC.EN 0");

        assertStatus(doorbellBufferConfig(d.iova(shadow), d.iova(eventIdx)), SC_SUCCESS);
        client.reset();
        d.enable(32);
        assertShadowStoresAreIgnored("after DEVICE_RESET");
    }

    /** On a new queue, a command stored only in the shadow buffer does not run; the trapped doorbell runs it. */
    void assertShadowStoresAreIgnored(String when) throws Exception {
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, 16);
        long data = d.alloc(4096);
        read(q, data, 0);
        VarHandle.fullFence();
        d.memory.set(U32, shadow + 2L * QID * DOORBELL_STRIDE, q.tail);
        assertThat(q.poll(Duration.ofMillis(300))).as("a shadow store " + when).isNull();
        q.ring();
        awaitCompletions(q, 1);
    }
}
