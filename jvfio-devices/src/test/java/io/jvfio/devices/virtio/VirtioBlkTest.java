package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.U16;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.U32;
import static io.jvfio.devices.virtio.UserspaceVirtioDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.SparseMmapCap;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The virtio-blk device driven over a real vfio-user socket by {@link UserspaceVirtioDriver}, a
 * virtio driver written against the jvfio client: identity and capabilities, negotiation, every
 * request type, indirect chains, event index, MQ, INTx, malformed chains, reset and reconnect;
 * with guest memory shared by fd and reached by DMA messages.
 */
class VirtioBlkTest {
    static final long DISK = 8 << 20;
    static final long BASE_FEATURES = featureBit(F_VERSION_1) | featureBit(BLK_F_FLUSH) | featureBit(BLK_F_BLK_SIZE);

    @TempDir
    Path dir;
    VirtioBlk disk;
    VfioUserServer server;
    int fdsBefore;

    void serve(VirtioBlk.Builder builder) throws Exception {
        fdsBefore = Fd.openFdCountOfProcess();
        disk = builder.build();
        server = VirtioBlkTestSupport.serve(dir, disk);
    }

    void serve() throws Exception {
        serve(VirtioBlk.builder(dir.resolve("disk.img")).create(DISK).serial("jvfio-test-disk"));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
            disk.shutdown();
            assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
        }
    }

    VfioUserClient connect() throws Exception {
        return VfioUserClient.connect(server.socketPath().orElseThrow());
    }

    /** One block request: header, optional data, status; returns the used length and leaves the status in {@code status()}. */
    static final class Request {
        final UserspaceVirtioDriver d;
        final UserspaceVirtioDriver.Queue q;
        final long header, data, statusAt;

        Request(UserspaceVirtioDriver d, UserspaceVirtioDriver.Queue q, int dataBytes) {
            this.d = d;
            this.q = q;
            header = d.alloc(BLK_REQ_HEADER_SIZE);
            data = d.alloc(Math.max(dataBytes, 1));
            statusAt = d.alloc(1);
        }

        int submit(int type, long sector, int dataBytes, boolean deviceWrites) throws Exception {
            d.awaitUsed(q, post(type, sector, dataBytes, deviceWrites));
            return status();
        }

        /** Makes the request available and notifies, without waiting; the used index that will complete it. */
        int post(int type, long sector, int dataBytes, boolean deviceWrites) throws Exception {
            d.memory.set(U32, header + BLK_REQ_TYPE, type);
            d.memory.set(U64, header + BLK_REQ_SECTOR, sector);
            d.memory.set(ValueLayout.JAVA_BYTE, statusAt, (byte) 0x7f);
            int status = q.descriptor(d.iova(statusAt), 1, DESC_F_WRITE, 0);
            int next = status;
            if (dataBytes > 0) {
                next = q.descriptor(d.iova(data), dataBytes, (deviceWrites ? DESC_F_WRITE : 0) | DESC_F_NEXT, status);
            }
            int head = q.descriptor(d.iova(header), BLK_REQ_HEADER_SIZE, DESC_F_NEXT, next);
            int expected = q.availIdx + 1;
            q.makeAvailable(head);
            q.notifyDevice();
            return expected;
        }

        /** The status byte as the device left it (0x7f: not written). */
        int status() {
            return d.memory.get(ValueLayout.JAVA_BYTE, statusAt);
        }

        MemorySegment data(int bytes) {
            return d.memory.asSlice(data, bytes);
        }
    }

    static UserspaceVirtioDriver readyDriver(VfioUserClient client, boolean shared, long features) throws Exception {
        UserspaceVirtioDriver d = new UserspaceVirtioDriver(client, shared);
        assertThat(d.negotiate(features)).as("FEATURES_OK kept").isTrue();
        d.enableMsix(2);
        d.setUpQueue(0);
        d.driverOk();
        return d;
    }

    @Test
    void presentsAModernVirtioBlockDevice() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = new UserspaceVirtioDriver(client, true)) {
            assertThat(client.read16(UserspaceVirtioDriver.CONFIG, 0)).isEqualTo(PCI_VENDOR_ID);
            assertThat(client.read16(UserspaceVirtioDriver.CONFIG, 2)).isEqualTo(0x1042);
            assertThat(client.read8(UserspaceVirtioDriver.CONFIG, 8)).as("revision").isEqualTo(1);
            assertThat(client.read32(UserspaceVirtioDriver.CONFIG, 8) >>> 8).isEqualTo(VirtioBlk.CLASS_CODE);
            assertThat(d.capOffsets).containsKeys(PCI_CAP_COMMON_CFG, PCI_CAP_NOTIFY_CFG, PCI_CAP_ISR_CFG, PCI_CAP_DEVICE_CFG);
            assertThat(d.bar).isEqualTo(4);
            long features = d.deviceFeatures();
            for (int bit : new int[] {F_VERSION_1, F_RING_INDIRECT_DESC, F_RING_EVENT_IDX, BLK_F_SEG_MAX, BLK_F_BLK_SIZE,
                    BLK_F_FLUSH, BLK_F_DISCARD, BLK_F_WRITE_ZEROES, BLK_F_MQ}) {
                assertThat(features & featureBit(bit)).as("feature bit %d", bit).isNotZero();
            }
            assertThat(features & featureBit(BLK_F_RO)).isZero();
            long deviceCfg = d.capOffsets.get(PCI_CAP_DEVICE_CFG);
            assertThat(client.read64(d.bar, deviceCfg + BLK_CFG_CAPACITY)).isEqualTo(DISK / 512);
            assertThat(client.read16(d.bar, deviceCfg + BLK_CFG_NUM_QUEUES)).isEqualTo(1);
            assertThat(client.read16(d.bar, d.common(COMMON_NUM_QUEUES))).isEqualTo(1);
            assertThat(client.read16(d.bar, d.common(COMMON_QUEUE_SIZE))).isEqualTo(VirtioBlk.DEFAULT_QUEUE_SIZE);
        }
    }

    @Test
    void aDriverWithoutVersion1IsRefusedFeaturesOk() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = new UserspaceVirtioDriver(client, true)) {
            assertThat(d.negotiate(featureBit(BLK_F_FLUSH))).isFalse();
            assertThat(d.negotiate(BASE_FEATURES | featureBit(40))).as("a bit the device does not offer").isFalse();
            assertThat(d.negotiate(BASE_FEATURES)).isTrue();
        }
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void writesReachTheImageAndReadsComeBack(boolean shared) throws Exception {
        serve();
        byte[] pattern = new byte[64 * 1024];
        new Random(42).nextBytes(pattern);
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, shared, BASE_FEATURES)) {
            var q = d.setUpQueueIfAbsent(0);
            Request r = new Request(d, q, pattern.length);
            r.data(pattern.length).copyFrom(MemorySegment.ofArray(pattern));
            assertThat(r.submit(BLK_T_OUT, 100, pattern.length, false)).isEqualTo(BLK_S_OK);
            assertThat(q.usedLength(0)).as("an OUT writes only the status byte").isEqualTo(1);
            assertThat(r.submit(BLK_T_FLUSH, 0, 0, false)).isEqualTo(BLK_S_OK);
            byte[] onDisk = new byte[pattern.length];
            try (FileChannel c = FileChannel.open(disk.imagePath())) {
                c.read(ByteBuffer.wrap(onDisk), 100 * 512);
            }
            assertThat(onDisk).isEqualTo(pattern);

            r.data(pattern.length).fill((byte) 0);
            assertThat(r.submit(BLK_T_IN, 100, pattern.length, true)).isEqualTo(BLK_S_OK);
            assertThat(r.data(pattern.length).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(pattern);
            assertThat(q.usedLength(2)).as("an IN writes its data and the status").isEqualTo(pattern.length + 1);
        }
    }

    @Test
    void getIdWriteZeroesDiscardAndUnknownRequests() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, true, BASE_FEATURES
                | featureBit(BLK_F_DISCARD) | featureBit(BLK_F_WRITE_ZEROES))) {
            var q = d.setUpQueueIfAbsent(0);
            Request r = new Request(d, q, 4096);
            assertThat(r.submit(BLK_T_GET_ID, 0, BLK_ID_BYTES, true)).isEqualTo(BLK_S_OK);
            assertThat(new String(r.data(15).toArray(ValueLayout.JAVA_BYTE))).isEqualTo("jvfio-test-disk");

            r.data(4096).fill((byte) 0xaa);
            assertThat(r.submit(BLK_T_OUT, 8, 4096, false)).isEqualTo(BLK_S_OK);
            MemorySegment range = r.data(BLK_DWZ_SIZE);
            range.set(U64, BLK_DWZ_SECTOR, 8);
            range.set(U32, BLK_DWZ_NUM_SECTORS, 4);
            range.set(U32, BLK_DWZ_FLAGS, 0);
            assertThat(r.submit(BLK_T_WRITE_ZEROES, 0, BLK_DWZ_SIZE, false)).isEqualTo(BLK_S_OK);
            assertThat(r.submit(BLK_T_IN, 8, 4096, true)).isEqualTo(BLK_S_OK);
            byte[] back = r.data(4096).toArray(ValueLayout.JAVA_BYTE);
            assertThat(Arrays.copyOfRange(back, 0, 2048)).containsOnly(0);
            assertThat(Arrays.copyOfRange(back, 2048, 4096)).containsOnly((byte) 0xaa);

            range = r.data(BLK_DWZ_SIZE);
            range.set(U64, BLK_DWZ_SECTOR, 0);
            range.set(U32, BLK_DWZ_NUM_SECTORS, 16);
            range.set(U32, BLK_DWZ_FLAGS, 0);
            assertThat(r.submit(BLK_T_DISCARD, 0, BLK_DWZ_SIZE, false)).isEqualTo(BLK_S_OK);
            range.set(U64, BLK_DWZ_SECTOR, DISK / 512 - 1);
            range.set(U32, BLK_DWZ_NUM_SECTORS, 2);
            assertThat(r.submit(BLK_T_WRITE_ZEROES, 0, BLK_DWZ_SIZE, false)).as("past the end").isEqualTo(BLK_S_IOERR);

            assertThat(r.submit(99, 0, 0, false)).isEqualTo(BLK_S_UNSUPP);
            assertThat(d.status() & STATUS_DEVICE_NEEDS_RESET).isZero();
        }
    }

    @Test
    void sectorRangesOutsideTheDiskFailWithIoerr() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, true, BASE_FEATURES)) {
            var q = d.setUpQueueIfAbsent(0);
            Request r = new Request(d, q, 4096);
            long lastSector = DISK / 512 - 1;
            assertThat(r.submit(BLK_T_IN, lastSector, 512, true)).isEqualTo(BLK_S_OK);
            assertThat(r.submit(BLK_T_IN, lastSector, 1024, true)).isEqualTo(BLK_S_IOERR);
            assertThat(r.submit(BLK_T_OUT, DISK / 512, 512, false)).isEqualTo(BLK_S_IOERR);
            assertThat(r.submit(BLK_T_OUT, -1L, 512, false)).isEqualTo(BLK_S_IOERR);
            assertThat(r.submit(BLK_T_OUT, Long.MAX_VALUE / 256, 512, false)).isEqualTo(BLK_S_IOERR);
            assertThat(r.submit(BLK_T_IN, 0, 100, true)).as("not a whole sector").isEqualTo(BLK_S_IOERR);
            assertThat(Files.size(disk.imagePath())).isEqualTo(DISK);
        }
    }

    @Test
    void aReadOnlyDiskOffersRoAndRefusesWrites() throws Exception {
        Path image = dir.resolve("ro.img");
        Files.write(image, new byte[1 << 20]);
        serve(VirtioBlk.builder(image).readOnly(true));
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = new UserspaceVirtioDriver(client, true)) {
            long offered = d.deviceFeatures();
            assertThat(offered & featureBit(BLK_F_RO)).isNotZero();
            assertThat(offered & featureBit(BLK_F_DISCARD)).isZero();
            assertThat(d.negotiate(BASE_FEATURES | featureBit(BLK_F_RO))).isTrue();
            d.enableMsix(2);
            var q = d.setUpQueue(0);
            d.driverOk();
            Request r = new Request(d, q, 512);
            assertThat(r.submit(BLK_T_OUT, 0, 512, false)).isEqualTo(BLK_S_IOERR);
            assertThat(r.submit(BLK_T_IN, 0, 512, true)).isEqualTo(BLK_S_OK);
        }
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void indirectDescriptorTablesAndEventIndex(boolean shared) throws Exception {
        serve();
        long features = BASE_FEATURES | featureBit(F_RING_INDIRECT_DESC) | featureBit(F_RING_EVENT_IDX);
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, shared, features)) {
            var q = d.setUpQueueIfAbsent(0);
            long header = d.alloc(16), data = d.alloc(8192), status = d.alloc(1), table = d.alloc(4 * DESC_SIZE);
            byte[] pattern = new byte[8192];
            new Random(7).nextBytes(pattern);
            d.memory.asSlice(data, 8192).copyFrom(MemorySegment.ofArray(pattern));
            d.memory.set(U32, header + BLK_REQ_TYPE, BLK_T_OUT);
            d.memory.set(U64, header + BLK_REQ_SECTOR, 64);
            // header | data in two halves | status, all in one indirect table
            indirect(d, table, 0, d.iova(header), 16, DESC_F_NEXT, 1);
            indirect(d, table, 1, d.iova(data), 4096, DESC_F_NEXT, 2);
            indirect(d, table, 2, d.iova(data + 4096), 4096, DESC_F_NEXT, 3);
            indirect(d, table, 3, d.iova(status), 1, DESC_F_WRITE, 0);
            // used_event = 0: interrupt after the first used entry
            d.memory.set(U16, q.avail + AVAIL_RING + 2L * UserspaceVirtioDriver.QUEUE_SIZE, (short) 0);
            int head = q.descriptor(d.iova(table), 4 * DESC_SIZE, DESC_F_INDIRECT, 0);
            q.makeAvailable(head);
            q.notifyDevice();
            assertThat(d.msix.await(1, Duration.ofSeconds(5))).as("queue interrupt").isTrue();
            d.awaitUsed(q, 1);
            assertThat(d.memory.get(ValueLayout.JAVA_BYTE, status)).isEqualTo((byte) BLK_S_OK);
            // The device asks for the next buffer's notification (avail_event) once it has drained the ring.
            long availEvent = q.used + USED_RING + (long) USED_ELEM_SIZE * UserspaceVirtioDriver.QUEUE_SIZE;
            Await.until(Duration.ofSeconds(5), () -> d.memory.get(U16, availEvent) == 1);
            assertThat(d.memory.get(U16, availEvent)).as("avail_event").isEqualTo((short) 1);

            // used_event stays 0: the second completion raises no interrupt
            q.makeAvailable(head);
            q.notifyDevice();
            d.awaitUsed(q, 2);
            assertThat(d.msix.await(1, Duration.ofMillis(200))).as("suppressed by used_event").isFalse();
            byte[] onDisk = new byte[8192];
            try (FileChannel c = FileChannel.open(disk.imagePath())) {
                c.read(ByteBuffer.wrap(onDisk), 64 * 512);
            }
            assertThat(onDisk).isEqualTo(pattern);
        }
    }

    private static void indirect(UserspaceVirtioDriver d, long table, int i, long iova, int length, int flags, int next) {
        long at = table + (long) i * DESC_SIZE;
        d.memory.set(U64, at + DESC_ADDR, iova);
        d.memory.set(U32, at + DESC_LEN, length);
        d.memory.set(U16, at + DESC_FLAGS, (short) flags);
        d.memory.set(U16, at + DESC_NEXT, (short) next);
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void aLoopingChainOrAWildAddressNeedsAResetAndTheJvmCarriesOn(boolean shared) throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, shared, BASE_FEATURES)) {
            var q = d.setUpQueueIfAbsent(0);
            long header = d.alloc(16);
            d.memory.set(U32, header + BLK_REQ_TYPE, BLK_T_IN);
            int a = q.descriptor(d.iova(header), 16, DESC_F_NEXT, 1);
            q.descriptor(d.iova(header), 16, DESC_F_NEXT, a);     // 1 → 0 → 1 ...
            q.makeAvailable(a);
            q.notifyDevice();
            assertThat(d.msix.await(0, Duration.ofSeconds(5))).as("config interrupt").isTrue();
            assertThat(d.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();

            // reset and start again: the device works
            d.resetDevice();
            assertThat(d.negotiate(BASE_FEATURES)).isTrue();
            client.write16(d.bar, d.common(COMMON_CONFIG_MSIX_VECTOR), 0);  // reset forgot the vectors
            var fresh = d.setUpQueue(0);
            d.driverOk();
            Request r = new Request(d, fresh, 512);
            assertThat(r.submit(BLK_T_IN, 0, 512, true)).isEqualTo(BLK_S_OK);

            // data outside every DMA window
            long hdr = d.alloc(16), st = d.alloc(1);
            d.memory.set(U32, hdr + BLK_REQ_TYPE, BLK_T_IN);
            int s = fresh.descriptor(d.iova(st), 1, DESC_F_WRITE, 0);
            int data = fresh.descriptor(0xdead_0000_0000L, 4096, DESC_F_WRITE | DESC_F_NEXT, s);
            int h = fresh.descriptor(d.iova(hdr), 16, DESC_F_NEXT, data);
            fresh.makeAvailable(h);
            fresh.notifyDevice();
            assertThat(d.msix.await(0, Duration.ofSeconds(5))).as("config interrupt").isTrue();
            assertThat(d.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();
        }
    }

    @Test
    void severalQueuesServeInParallel() throws Exception {
        serve(VirtioBlk.builder(dir.resolve("mq.img")).create(DISK).queues(3));
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = new UserspaceVirtioDriver(client, true)) {
            assertThat(d.negotiate(BASE_FEATURES | featureBit(BLK_F_MQ))).isTrue();
            assertThat(client.read16(d.bar, d.capOffsets.get(PCI_CAP_DEVICE_CFG) + BLK_CFG_NUM_QUEUES)).isEqualTo(3);
            d.enableMsix(4);
            var queues = List.of(d.setUpQueue(0), d.setUpQueue(1), d.setUpQueue(2));
            d.driverOk();
            for (var q : queues) {
                Request r = new Request(d, q, 512);
                r.data(512).fill((byte) (q.index + 1));
                assertThat(r.submit(BLK_T_OUT, q.index, 512, false)).isEqualTo(BLK_S_OK);
            }
            byte[] onDisk = new byte[3 * 512];
            try (FileChannel c = FileChannel.open(disk.imagePath())) {
                c.read(ByteBuffer.wrap(onDisk), 0);
            }
            for (int i = 0; i < 3; i++) {
                assertThat(Arrays.copyOfRange(onDisk, i * 512, i * 512 + 512)).containsOnly((byte) (i + 1));
            }
        }
    }

    @Test
    void withoutMsixTheQueueRaisesIntxAndTheIsrSaysWhy() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = new UserspaceVirtioDriver(client, true);
             EventFd intx = EventFd.create()) {
            client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
            assertThat(d.negotiate(BASE_FEATURES)).isTrue();
            var q = d.setUpQueue(0);
            d.driverOk();
            Request r = new Request(d, q, 512);
            assertThat(r.submit(BLK_T_IN, 0, 512, true)).isEqualTo(BLK_S_OK);
            assertThat(intx.await(Duration.ofSeconds(5))).isTrue();
            intx.read();
            long isr = d.capOffsets.get(PCI_CAP_ISR_CFG);
            assertThat(client.read8(d.bar, isr)).isEqualTo(ISR_QUEUE);
            assertThat(client.read8(d.bar, isr)).as("read clears").isZero();
            assertThat(disk.interrupts().intxAsserted()).isFalse();
        }
    }

    @Test
    void aNewClientFindsTheDataAndAFreshDevice() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, true, BASE_FEATURES)) {
            Request r = new Request(d, d.setUpQueueIfAbsent(0), 512);
            r.data(512).fill((byte) 0x5a);
            assertThat(r.submit(BLK_T_OUT, 3, 512, false)).isEqualTo(BLK_S_OK);
        }
        VirtioBlkTestSupport.awaitNoClient(server);
        assertThat(disk.status()).as("device reset when the client left").isZero();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, false, BASE_FEATURES)) {
            Request r = new Request(d, d.setUpQueueIfAbsent(0), 512);
            assertThat(r.submit(BLK_T_IN, 3, 512, true)).isEqualTo(BLK_S_OK);
            assertThat(r.data(512).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x5a);
        }
    }

    @Test
    void deviceResetFromTheClientStopsTheQueues() throws Exception {
        serve();
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, true, BASE_FEATURES)) {
            Request r = new Request(d, d.setUpQueueIfAbsent(0), 512);
            assertThat(r.submit(BLK_T_IN, 0, 512, true)).isEqualTo(BLK_S_OK);
            client.reset();
            d.awaitStatusZero();
            assertThat(client.read16(d.bar, d.common(COMMON_QUEUE_ENABLE))).isZero();
            assertThat(client.read16(d.bar, d.common(COMMON_CONFIG_MSIX_VECTOR))).isEqualTo(NO_VECTOR);
        }
    }

    @Test
    void polledNotifyAreaIsASparsePageOfTheConfigBarMappedAndServes() throws Exception {
        serve(VirtioBlk.builder(dir.resolve("polled.img")).create(DISK).notifyMode(NotifyMode.POLLED));
        try (VfioUserClient client = connect(); UserspaceVirtioDriver d = readyDriver(client, true, BASE_FEATURES)) {
            assertThat(d.notifyBar).as("the notify capability points into BAR 4").isEqualTo(VirtioPciDevice.CONFIG_BAR);
            assertThat(d.capOffsets.get(PCI_CAP_NOTIFY_CFG)).isEqualTo(VirtioPciDevice.NOTIFY_OFFSET);
            try (RegionDescription bar4 = client.regionInfo(VirtioPciDevice.CONFIG_BAR)) {
                assertThat(bar4.size()).isEqualTo(VirtioPciDevice.CONFIG_BAR_SIZE);
                assertThat(bar4.mmappable()).as("backed by an fd").isTrue();
                assertThat(bar4.info().cap(SparseMmapCap.class)).as("a SPARSE_MMAP capability").isNotNull();
                assertThat(bar4.info().cap(SparseMmapCap.class).areas()).as("exactly the notify page")
                        .containsExactly(new SparseMmapCap.Area(VirtioPciDevice.NOTIFY_OFFSET, VirtioPciDevice.PAGE));
            }
            try (RegionDescription bar2 = client.regionInfo(2)) {
                assertThat(bar2.size()).as("no BAR of its own for the notify area").isZero();
            }
            Request r = new Request(d, d.setUpQueueIfAbsent(0), 4096);
            r.data(4096).fill((byte) 0x11);
            // A client that does not map the page notifies through trapped writes.
            assertThat(r.submit(BLK_T_OUT, 0, 4096, false)).isEqualTo(BLK_S_OK);
            assertThat(disk.polledNotifications()).isZero();

            d.mappedNotify = client.mapRegion(d.notifyBar);
            assertThat(d.mappedNotify.areas()).hasSize(1);
            assertThat(d.mappedNotify.areas().getFirst().offset()).isEqualTo(VirtioPciDevice.NOTIFY_OFFSET);
            assertThat(d.mappedNotify.areas().getFirst().size()).isEqualTo(VirtioPciDevice.PAGE);
            long writesBefore = server.stats().count(Command.REGION_WRITE);
            for (int i = 0; i < 20; i++) {
                assertThat(r.submit(BLK_T_OUT, i * 8L, 4096, false)).isEqualTo(BLK_S_OK);
            }
            assertThat(server.stats().count(Command.REGION_WRITE) - writesBefore)
                    .as("notifies never reached the socket").isZero();
            // Stores the poller has not seen yet merge into one (the worker may take a request before
            // the poller sees its store): at least one notification, at most 20. The poller counts
            // one just after it wakes the worker, hence the wait.
            Await.until(Duration.ofSeconds(5), () -> disk.polledNotifications() > 0);
            assertThat(disk.polledNotifications()).as("notifies taken from the mapped page").isBetween(1L, 20L);
        }
    }
}
