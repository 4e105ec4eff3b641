package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.MappedRegion;
import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.protocol.SparseMmapCap;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Polled doorbells: BAR 0's doorbell page is its only SPARSE_MMAP area; a client that maps it
 * rings SQ tails and CQ heads by plain stores, which the controller's poller takes; trapped
 * doorbell writes keep working; a queue created again after a reset sees its first tail even
 * when it equals the old queue's last one.
 */
class NvmePolledDoorbellTest {
    static final long DISK = 8 << 20;
    static final int QID = 1, ENTRIES = 16;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();

    @ParameterizedTest(name = "shared memory: {0}")
    @ValueSource(booleans = {true, false})
    void theDoorbellPageIsMappedAndRungByStores(boolean shared) throws Exception {
        NvmeController nvme = NvmeController.builder().namespace(BlockImage.open(dir.resolve("disk.img"), DISK, false))
                .polledDoorbells(true).build();
        served.closeLater(nvme::shutdown);
        VfioUserClient client = served.serve(nvme, "nvme.sock");
        UserspaceNvmeDriver d = served.closeLater(new UserspaceNvmeDriver(client, shared));
        try (RegionDescription bar0 = client.regionInfo(UserspaceNvmeDriver.BAR)) {
            assertThat(bar0.mmappable()).as("backed by an fd").isTrue();
            assertThat(bar0.info().cap(SparseMmapCap.class).areas()).as("exactly the doorbell page")
                    .containsExactly(new SparseMmapCap.Area(DOORBELLS, PolledDoorbellPage.PAGE_SIZE));
        }
        // Not mapped: every doorbell is a trapped write, as without the option.
        d.enable(32);
        UserspaceNvmeDriver.Queue q = d.createIoQueue(QID, ENTRIES);
        long data = d.alloc(4096);
        assertStatus(d.io(q, IO_WRITE, 1, 0, 8, d.iova(data), 0), SC_SUCCESS);
        assertThat(nvme.polledDoorbells()).isZero();

        MappedRegion mapped = served.closeLater(client.mapRegion(UserspaceNvmeDriver.BAR));
        long trappedBefore = nvme.doorbellStatistics().trappedSubmissionDoorbells();
        for (int i = 0; i < 3 * ENTRIES; i++) {   // the tail wraps around the queue several times
            readByStores(d, mapped, q, data, i);
        }
        assertThat(nvme.doorbellStatistics().trappedSubmissionDoorbells()).as("trapped SQ doorbells").isEqualTo(trappedBefore);
        assertThat(nvme.polledDoorbells()).as("doorbells taken from the page").isPositive();

        // CC.EN 1→0→1 and the queue again: its first tail, 1, is what the old queue's page slot may hold.
        d.enable(32);
        q = d.createIoQueue(QID, ENTRIES);
        readByStores(d, mapped, q, data, 0);
        assertThat(nvme.status() & CSTS_CFS).isZero();
    }

    /** One read, its tail and then its CQ head stored in the mapped page. */
    static void readByStores(UserspaceNvmeDriver d, MappedRegion mapped, UserspaceNvmeDriver.Queue q, long data, int block)
            throws Exception {
        int cid = q.put(IO_READ, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(data));
            e.set(U64, SQE_CDW10, block);
        });
        store(mapped, 2 * q.id, q.tail);
        long at = q.cq + (long) q.head * CQE_SIZE;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (((d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_STATUS) & 1) != 0) != q.phase) {
            assertThat(System.nanoTime()).as("completion of read %d", block).isLessThan(deadline);
            Thread.onSpinWait();
        }
        VarHandle.acquireFence();
        assertThat(Short.toUnsignedInt(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_CID))).isEqualTo(cid);
        assertThat(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_STATUS) >>> 1 & 0x7ff).isEqualTo(SC_SUCCESS);
        q.head = (q.head + 1) % q.cqEntries;
        if (q.head == 0) {
            q.phase = !q.phase;
        }
        store(mapped, 2 * q.id + 1, q.head);
    }

    static void store(MappedRegion mapped, int slot, int value) {
        VarHandle.fullFence();
        mapped.segment(DOORBELLS + (long) slot * DOORBELL_STRIDE, 4).orElseThrow().set(U32, 0, value);
    }
}
