package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.BlockStore;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Namespaces attached and detached at run time, over a real vfio-user socket: NN leaves room for
 * them; Identify (the controller's NN, the active namespace list, Identify Namespace: zeros for an
 * inactive id, Invalid Namespace or Format past NN) follows; I/O reaches an attached namespace's
 * store and to a detached one completes with Invalid Namespace or Format; each change is in the
 * Changed Namespace List and reported as a Namespace Attribute Notice; a detach under I/O returns only
 * once no command uses the store.
 */
class NvmeNamespaceAttachTest {
    static final int NAMESPACE_EVENT = AsyncEvents.event(AE_TYPE_NOTICE, AE_NOTICE_NAMESPACE_ATTRIBUTE, LOG_CHANGED_NAMESPACES);
    static final long DISK = 1 << 20;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    NvmeController nvme;
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue a;
    long page;

    @BeforeEach
    void setUp() throws Exception {
        nvme = NvmeController.builder().namespace(new NullStore(DISK)).maxNamespaces(3).build();
        d = UserspaceNvmeDriver.serve(served, nvme, true, UserspaceNvmeDriver.MEMORY_IOVA);
        a = d.enable(32);
        page = d.alloc(4096);
    }

    @Test
    void theBuilderChecksNn() {
        assertThatThrownBy(() -> NvmeController.builder().namespace(new NullStore(DISK)).namespace(new NullStore(DISK))
                .maxNamespaces(1).build()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NN is 1");
        assertThatThrownBy(() -> NvmeController.builder().maxNamespaces(256)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NvmeController.builder().maxNamespaces(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void nowRulesFromPlanWordsAttachAndDetachAnImage() throws Exception {
        Path image = dir.resolve("planned.img");
        var words = nvme.faultVocabulary();
        var attach = words.action("attach-namespace", new MapFaultSpec("grow", new LinkedHashMap<>(
                Map.<String, Object>of("image", image.toString(), "size", 2 * DISK))));
        nvme.faults().add(FaultRule.on("grow", new FaultMatch.Now(), attach));
        assertThat(activeNamespaces()).containsExactly(1, 2);
        assertThat(namespaceSize(2)).as("namespace 2's blocks").isEqualTo(2 * DISK / 512);
        assertThat(Files.size(image)).as("the image made at the size given").isEqualTo(2 * DISK);

        var detach = words.action("detach-namespace", new MapFaultSpec("shrink", new LinkedHashMap<>(
                Map.<String, Object>of("namespace", 2))));
        nvme.faults().add(FaultRule.on("shrink", new FaultMatch.Now(), detach));
        assertThat(activeNamespaces()).containsExactly(1);
        assertThat(nvme.faults().log()).extracting(f -> f.ruleId()).containsExactly("grow", "shrink");
        assertThatThrownBy(() -> nvme.faults().add(FaultRule.on("again", new FaultMatch.Now(), detach)))
                .as("namespace 2 is not attached any more").isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void identifyFollowsTheAttachedNamespaces() throws Exception {
        assertStatus(d.identify(CNS_CONTROLLER, 0, page), SC_SUCCESS);
        assertThat(d.memory.get(ValueLayout.JAVA_INT_UNALIGNED, page + ID_CTRL_NN)).as("NN").isEqualTo(3);
        assertThat(activeNamespaces()).containsExactly(1);
        assertThat(namespaceSize(2)).as("an inactive id identifies as zeros").isZero();
        assertStatus(d.identify(CNS_NAMESPACE, 4, page), SC_INVALID_NAMESPACE | STATUS_DNR);

        assertThat(nvme.attachNamespace(new NullStore(2 * DISK))).isEqualTo(2);
        assertThat(nvme.attachNamespace(new NullStore(3 * DISK))).isEqualTo(3);
        assertThatThrownBy(() -> nvme.attachNamespace(new NullStore(DISK))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("all 3 namespace ids");
        assertThat(activeNamespaces()).containsExactly(1, 2, 3);
        assertThat(namespaceSize(2)).isEqualTo(2 * DISK / 512);
        assertThat(nvme.namespaceSizes()).containsExactly(DISK, 2 * DISK, 3 * DISK);

        nvme.detachNamespace(2).close();
        assertThat(activeNamespaces()).containsExactly(1, 3);
        assertThat(namespaceSize(2)).isZero();
        assertStatus(d.identify(CNS_NAMESPACE_DESCRIPTORS, 2, page), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertThatThrownBy(() -> nvme.detachNamespace(2)).isInstanceOf(IllegalArgumentException.class);
        // The lowest inactive id is taken again.
        assertThat(nvme.attachNamespace(new NullStore(DISK))).isEqualTo(2);
    }

    @Test
    void ioReachesAnAttachedNamespaceAndFailsOnceItIsDetached() throws Exception {
        UserspaceNvmeDriver.Queue q = d.createIoQueue(1, 16);
        long data = d.alloc(4096);
        assertStatus(d.io(q, IO_READ, 2, 0, 8, d.iova(data), 0), SC_INVALID_NAMESPACE | STATUS_DNR);

        BlockStore second = BlockImage.open(dir.resolve("second.img"), DISK, false);
        second.write(4096, ByteBuffer.wrap("attached".getBytes()));
        assertThat(nvme.attachNamespace(second)).isEqualTo(2);
        assertStatus(d.io(q, IO_READ, 2, 8, 8, d.iova(data), 0), SC_SUCCESS);
        assertThat(new String(d.memory.asSlice(data, 8).toArray(ValueLayout.JAVA_BYTE))).isEqualTo("attached");
        d.memory.asSlice(data, 4096).fill((byte) 0x3c);
        assertStatus(d.io(q, IO_WRITE, 2, 16, 8, d.iova(data), 0), SC_SUCCESS);

        assertThat(nvme.detachNamespace(2)).as("the store given back").isSameAs(second);
        ByteBuffer written = ByteBuffer.allocate(4096);
        second.read(8192, written);
        assertThat(written.array()).containsOnly((byte) 0x3c);
        second.close();
        for (int opcode : new int[] {IO_READ, IO_WRITE, IO_WRITE_ZEROES}) {
            assertStatus(d.io(q, opcode, 2, 0, 8, d.iova(data), 0), SC_INVALID_NAMESPACE | STATUS_DNR);
        }
        assertStatus(q.submit(IO_FLUSH, 2, e -> { }), SC_INVALID_NAMESPACE | STATUS_DNR);
        assertStatus(q.submit(IO_FLUSH, BROADCAST_NSID, e -> { }), SC_SUCCESS);
        assertStatus(d.io(q, IO_READ, 1, 0, 8, d.iova(data), 0), SC_SUCCESS);
    }

    @Test
    void eachChangeIsReportedAndListed() throws Exception {
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_ASYNC_EVENT_CONFIG);
            e.set(U32, SQE_CDW11, AEC_NAMESPACE_ATTRIBUTE);
        }), SC_SUCCESS);
        int aer = a.put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        a.ring();
        nvme.attachNamespace(new NullStore(DISK));
        UserspaceNvmeDriver.Completion event = a.poll(Duration.ofSeconds(10));
        assertThat(event).isNotNull();
        assertThat(event.cid()).isEqualTo(aer);
        assertThat(event.result()).isEqualTo(NAMESPACE_EVENT);
        assertThat(changedNamespaces()).containsExactly(2);

        aer = a.put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        a.ring();
        nvme.detachNamespace(2);
        event = a.poll(Duration.ofSeconds(10));
        assertThat(event).isNotNull();
        assertThat(event.cid()).isEqualTo(aer);
        assertThat(event.result()).isEqualTo(NAMESPACE_EVENT);
        assertThat(changedNamespaces()).containsExactly(2);
        assertThat(changedNamespaces()).as("cleared by the read").isEmpty();
    }

    /** Readers on two queues keep namespace 2 busy; each detach returns only when none of them is in its store. */
    @Test
    void aDetachUnderIoWaitsForTheCommandsInHand() throws Exception {
        List<UserspaceNvmeDriver.Queue> queues = List.of(d.createIoQueue(1, 16), d.createIoQueue(2, 16));
        List<Long> buffers = List.of(d.alloc(4096), d.alloc(4096));
        for (int round = 0; round < 20; round++) {
            ClosingStore store = new ClosingStore();
            int nsid = nvme.attachNamespace(store);
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> readers = new ArrayList<>();
            List<List<Integer>> statuses = new ArrayList<>();   // by reader
            for (int r = 0; r < queues.size(); r++) {
                UserspaceNvmeDriver.Queue q = queues.get(r);
                long data = buffers.get(r);
                List<Integer> heard = Collections.synchronizedList(new ArrayList<>());
                statuses.add(heard);
                readers.add(Thread.ofPlatform().start(() -> {
                    try {
                        while (!stop.get()) {
                            heard.add(d.io(q, IO_READ, nsid, 0, 8, d.iova(data), 0).status());
                        }
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }));
            }
            awaitStatuses(statuses, new int[] {1, 1}, readers);
            nvme.detachNamespace(nsid).close();   // a read of it from now on would fail: Unrecovered Read Error
            // A reader may yet hear the success of the command that completed before the detach returned.
            int[] surelyAfter = statuses.stream().mapToInt(heard -> heard.size() + 1).toArray();
            awaitStatuses(statuses, Arrays.stream(surelyAfter).map(n -> n + 2).toArray(), readers);
            stop.set(true);
            for (Thread reader : readers) {
                reader.join();
            }
            for (int r = 0; r < readers.size(); r++) {
                List<Integer> heard = statuses.get(r);
                assertThat(heard).as("round %d, reader %d", round, r).containsOnly(SC_SUCCESS, SC_INVALID_NAMESPACE);
                assertThat(heard.subList(surelyAfter[r], heard.size())).as("round %d, reader %d after the detach", round, r)
                        .containsOnly(SC_INVALID_NAMESPACE);
            }
        }
    }

    /** Waits until each reader heard at least so many statuses. */
    private static void awaitStatuses(List<List<Integer>> statuses, int[] sizes, List<Thread> readers) {
        for (int r = 0; r < sizes.length; r++) {
            while (statuses.get(r).size() < sizes[r]) {
                assertThat(readers).as("readers").allMatch(Thread::isAlive);
                Thread.onSpinWait();
            }
        }
    }

    /** Zeros, until it is marked closed: then every access fails (Unrecovered Read Error for a read). */
    static final class ClosingStore implements BlockStore {
        static final long READ_NANOS = 200_000;
        volatile boolean closed;

        @Override
        public long size() {
            return DISK;
        }

        @Override
        public boolean isReadOnly() {
            return false;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            open();
            LockSupport.parkNanos(READ_NANOS);   // a read takes a while: a detach has time to come in the middle
            dst.put(new byte[dst.remaining()]);
            open();
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            open();
            src.position(src.limit());
        }

        @Override
        public void writeZeros(long offset, long length) throws IOException {
            open();
        }

        @Override
        public void flush() throws IOException {
            open();
        }

        @Override
        public void close() {
            closed = true;
        }

        private void open() throws IOException {
            if (closed) {
                throw new IOException("closed");
            }
        }
    }

    private List<Integer> activeNamespaces() throws Exception {
        assertStatus(d.identify(CNS_ACTIVE_NAMESPACES, 0, page), SC_SUCCESS);
        return ints(page);
    }

    private long namespaceSize(int nsid) throws Exception {
        d.memory.asSlice(page, 4096).fill((byte) 0xff);
        assertStatus(d.identify(CNS_NAMESPACE, nsid, page), SC_SUCCESS);
        return d.memory.get(ValueLayout.JAVA_LONG_UNALIGNED, page + ID_NS_NSZE);
    }

    /** Reads the Changed Namespace List (RAE clear: the list empties and the event type is unmasked). */
    private List<Integer> changedNamespaces() throws Exception {
        assertStatus(a.submit(ADMIN_GET_LOG_PAGE, BROADCAST_NSID, e -> {
            e.set(U64, SQE_PRP1, d.iova(page));
            e.set(U32, SQE_CDW10, 1023 << 16 | LOG_CHANGED_NAMESPACES);
        }), SC_SUCCESS);
        return ints(page);
    }

    private List<Integer> ints(long at) {
        List<Integer> list = new ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            int value = d.memory.get(ValueLayout.JAVA_INT_UNALIGNED, at + 4L * i);
            if (value == 0) {
                break;
            }
            list.add(value);
        }
        return list;
    }
}
