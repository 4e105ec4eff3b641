package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.client.Interrupts;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.DriverMemory;
import io.jvfio.devices.ServedDevices;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.IntPredicate;

/**
 * A tiny NVMe driver in Java over the jvfio client, as Linux's nvme-pci drives a controller:
 * the CC/CSTS handshake, admin queues, Identify, I/O queue creation and commands with PRPs or SGLs, in
 * "host" memory shared with the server by fd or reachable only by DMA messages. Completions are
 * polled by phase (and, with MSI-X on, awaited on the queue's vector). Across a live migration
 * the driver keeps its memory and queues and {@link #moveTo moves} to the destination's client.
 */
final class UserspaceNvmeDriver implements AutoCloseable {
    static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX, BAR = 0;
    static final long MEMORY_IOVA = 0x10_0000, MEMORY_SIZE = 16 << 20;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** Where doorbells and register accesses go: the source, then (after a migration) the destination. */
    volatile VfioUserClient client;
    final MemorySegment memory;
    final long memoryIova;
    private final DriverMemory owned;
    private long nextFree;
    volatile Interrupts msix;
    final Queue[] queues = new Queue[NvmeController.VECTORS];

    /** One completion as the host reads it. */
    record Completion(int result, int sqHead, int sqId, int cid, int status, boolean dnr) {}

    /** A submission queue and its completion queue, both in {@link #memory}. */
    final class Queue {
        final int id, entries, cqEntries;
        final long sq, cq;
        int tail, head, nextCid;
        boolean phase = true;
        /** Told each new head before the head doorbell: false skips the ring (a host with shadow doorbells stores it there). */
        IntPredicate ringHead = newHead -> true;

        Queue(int id, int entries) {
            this(id, entries, entries);
        }

        Queue(int id, int entries, int cqEntries) {
            this.id = id;
            this.entries = entries;
            this.cqEntries = cqEntries;
            sq = alloc((long) entries * SQE_SIZE);
            cq = alloc((long) cqEntries * CQE_SIZE);
        }

        /** Writes an SQE (cleared, opcode and CID set, then {@code fill}) at the tail; returns its CID. Does not ring. */
        int put(int opcode, int nsid, Consumer<MemorySegment> fill) {
            MemorySegment e = memory.asSlice(sq + (long) tail * SQE_SIZE, SQE_SIZE);
            e.fill((byte) 0);
            int cid = nextCid++ & 0xffff;
            e.set(ValueLayout.JAVA_BYTE, SQE_OPCODE, (byte) opcode);
            e.set(ValueLayout.JAVA_SHORT_UNALIGNED, SQE_CID, (short) cid);
            e.set(U32, SQE_NSID, nsid);
            fill.accept(e);
            tail = (tail + 1) % entries;
            return cid;
        }

        void ring() throws IOException {
            VarHandle.fullFence();
            client.write32(BAR, DOORBELLS + 2L * id * DOORBELL_STRIDE, tail);
        }

        /** The next completion, or null when none arrives within {@code timeout}. Consumes it (the head doorbell is rung). */
        Completion poll(Duration timeout) throws Exception {
            long deadline = System.nanoTime() + timeout.toNanos();
            long at = cq + (long) head * CQE_SIZE;
            while (true) {
                int word = Short.toUnsignedInt(memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_STATUS));
                if (((word & 1) != 0) == phase) {
                    VarHandle.acquireFence();
                    Completion c = new Completion(memory.get(U32, at + CQE_DW0),
                            Short.toUnsignedInt(memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_SQHD)),
                            Short.toUnsignedInt(memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_SQID)),
                            Short.toUnsignedInt(memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + CQE_CID)),
                            (word >>> 1) & 0x7ff, (word & 0x8000) != 0);
                    head = (head + 1) % cqEntries;
                    if (head == 0) {
                        phase = !phase;
                    }
                    if (ringHead.test(head)) {
                        client.write32(BAR, DOORBELLS + (2L * id + 1) * DOORBELL_STRIDE, head);
                    }
                    return c;
                }
                if (System.nanoTime() > deadline) {
                    return null;
                }
                if (msix != null) {
                    msix.await(id, Duration.ofMillis(20));
                } else {
                    Thread.sleep(1);
                }
            }
        }

        Completion submit(int opcode, int nsid, Consumer<MemorySegment> fill) throws Exception {
            int cid = put(opcode, nsid, fill);
            ring();
            Completion c = poll(Duration.ofSeconds(10));
            if (c == null) {
                throw new AssertionError("queue %d: no completion for opcode 0x%x".formatted(id, opcode));
            }
            if (c.cid() != cid) {
                throw new AssertionError("queue %d: completion for CID %d, expected %d".formatted(id, c.cid(), cid));
            }
            return c;
        }
    }

    UserspaceNvmeDriver(VfioUserClient client, boolean sharedMemory) throws IOException {
        this(client, sharedMemory, MEMORY_IOVA);
    }

    /** With the driver's memory (queues and all it allocates) at {@code memoryIova}. */
    UserspaceNvmeDriver(VfioUserClient client, boolean sharedMemory, long memoryIova) throws IOException {
        this.client = client;
        this.memoryIova = memoryIova;
        owned = new DriverMemory(client, memoryIova, MEMORY_SIZE, sharedMemory);
        memory = owned.segment();
        nextFree = 0x1000;
    }

    /** Over {@code memory} at {@link #MEMORY_IOVA}, which the caller gave the server (and closes). */
    UserspaceNvmeDriver(VfioUserClient client, MemorySegment memory) {
        this.client = client;
        this.memoryIova = MEMORY_IOVA;
        this.owned = null;
        this.memory = memory;
        nextFree = 0x1000;
    }

    /** After a migration: the destination's client and interrupts (wired by the caller). */
    void moveTo(VfioUserClient destination, Interrupts destinationMsix) {
        client = destination;
        msix = destinationMsix;
    }

    /** Serves {@code nvme} (shut down when {@code served} closes) and returns a driver of it, its memory at {@code memoryIova}. */
    static UserspaceNvmeDriver serve(ServedDevices served, NvmeController nvme, boolean sharedMemory, long memoryIova)
            throws Exception {
        served.closeLater(nvme::shutdown);
        return served.closeLater(new UserspaceNvmeDriver(served.serve(nvme, "nvme.sock"), sharedMemory, memoryIova));
    }

    /** Page-aligned memory; returns its offset in {@link #memory}. */
    long alloc(long bytes) {
        long at = nextFree;
        nextFree = (nextFree + bytes + 4095) & ~4095L;
        if (nextFree > MEMORY_SIZE) {
            throw new IllegalStateException("driver memory exhausted");
        }
        return at;
    }

    long iova(long offset) {
        return memoryIova + offset;
    }

    int csts() throws IOException {
        return client.read32(BAR, REG_CSTS);
    }

    long cap() throws IOException {
        return Integer.toUnsignedLong(client.read32(BAR, REG_CAP)) | (long) client.read32(BAR, REG_CAP + 4) << 32;
    }

    void awaitCsts(int mask, int value) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((csts() & mask) != value) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("CSTS 0x%x never had 0x%x under mask 0x%x".formatted(csts(), value, mask));
            }
            Thread.sleep(1);
        }
    }

    /** Enables MSI-X and wires {@code vectors} eventfds. */
    void enableMsix(int vectors) throws IOException {
        for (int at = client.read8(CONFIG, 0x34); at != 0; at = client.read8(CONFIG, at + 1)) {
            if (client.read8(CONFIG, at) == 0x11) {
                client.write16(CONFIG, at + 2, 0x8000);
            }
        }
        msix = client.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, vectors);
    }

    /** Linux's sequence: disable and wait, admin queue registers, CC with EN=0, then EN=1 and wait for RDY. */
    Queue enable(int adminEntries) throws Exception {
        disable();
        Queue admin = new Queue(0, adminEntries);
        queues[0] = admin;
        client.write32(BAR, REG_AQA, (adminEntries - 1) << AQA_ACQS_SHIFT | (adminEntries - 1));
        client.write64(BAR, REG_ASQ, iova(admin.sq));
        client.write32(BAR, REG_ACQ, (int) iova(admin.cq));
        client.write32(BAR, REG_ACQ + 4, (int) (iova(admin.cq) >>> 32));
        int cc = SQES << CC_IOSQES_SHIFT | CQES << CC_IOCQES_SHIFT;
        client.write32(BAR, REG_CC, cc);
        client.write32(BAR, REG_CC, cc | CC_EN);
        awaitCsts(CSTS_RDY, CSTS_RDY);
        return admin;
    }

    void disable() throws Exception {
        client.write32(BAR, REG_CC, client.read32(BAR, REG_CC) & ~CC_EN);
        awaitCsts(CSTS_RDY, 0);
        java.util.Arrays.fill(queues, null);
    }

    Queue admin() {
        return queues[0];
    }

    /** Identify into a fresh page; returns the page's offset in memory, or throws on a failed status. */
    Completion identify(int cns, int nsid, long page) throws Exception {
        return admin().submit(ADMIN_IDENTIFY, nsid, e -> {
            e.set(U64, SQE_PRP1, iova(page));
            e.set(U32, SQE_CDW10, cns);
        });
    }

    Completion createCq(int qid, int entries, int vector, boolean interrupts, long base) throws Exception {
        return admin().submit(ADMIN_CREATE_CQ, 0, e -> {
            e.set(U64, SQE_PRP1, iova(base));
            e.set(U32, SQE_CDW10, (entries - 1) << 16 | qid);
            e.set(U32, SQE_CDW11, vector << 16 | (interrupts ? 2 : 0) | 1);
        });
    }

    Completion createSq(int qid, int entries, int cqid, long base) throws Exception {
        return admin().submit(ADMIN_CREATE_SQ, 0, e -> {
            e.set(U64, SQE_PRP1, iova(base));
            e.set(U32, SQE_CDW10, (entries - 1) << 16 | qid);
            e.set(U32, SQE_CDW11, cqid << 16 | 1);
        });
    }

    /** Creates I/O queue pair {@code qid} (CQ on vector qid when MSI-X is on); fails the test on an error status. */
    Queue createIoQueue(int qid, int entries) throws Exception {
        return createIoQueue(qid, entries, entries);
    }

    /** An I/O queue pair whose completion queue has {@code cqEntries} entries. */
    Queue createIoQueue(int qid, int entries, int cqEntries) throws Exception {
        Queue q = new Queue(qid, entries, cqEntries);
        Completion c = createCq(qid, cqEntries, msix != null ? qid : 0, true, q.cq);
        if (c.status() != SC_SUCCESS) {
            throw new AssertionError("Create CQ %d: status 0x%x".formatted(qid, c.status()));
        }
        c = createSq(qid, entries, qid, q.sq);
        if (c.status() != SC_SUCCESS) {
            throw new AssertionError("Create SQ %d: status 0x%x".formatted(qid, c.status()));
        }
        queues[qid] = q;
        return q;
    }

    /** Read or Write of {@code blocks} from {@code slba} with the given PRPs. */
    Completion io(Queue q, int opcode, int nsid, long slba, int blocks, long prp1, long prp2) throws Exception {
        return q.submit(opcode, nsid, e -> {
            e.set(U64, SQE_PRP1, prp1);
            e.set(U64, SQE_PRP2, prp2);
            e.set(U64, SQE_CDW10, slba);
            e.set(U32, SQE_CDW12, blocks - 1);
        });
    }

    /** Read or Write of {@code blocks} from {@code slba} whose data an SGL describes (PSDT 01b), SGL1 as given. */
    Completion ioSgl(Queue q, int opcode, int nsid, long slba, int blocks, long address, int length, int type) throws Exception {
        return q.submit(opcode, nsid, e -> {
            e.set(ValueLayout.JAVA_BYTE, SQE_FLAGS, (byte) (PSDT_SGL << FLAGS_PSDT_SHIFT));
            sglDescriptor(e, SQE_PRP1, address, length, type);
            e.set(U64, SQE_CDW10, slba);
            e.set(U32, SQE_CDW12, blocks - 1);
        });
    }

    /** An SGL segment at {@code offset} in {@link #memory}: descriptors as {iova, length, type} triples. */
    void sglSegment(long offset, long... descriptors) {
        for (int i = 0; i < descriptors.length / 3; i++) {
            sglDescriptor(memory, offset + (long) i * SGL_DESCRIPTOR_SIZE, descriptors[3 * i], (int) descriptors[3 * i + 1],
                    (int) descriptors[3 * i + 2]);
        }
    }

    static void sglDescriptor(MemorySegment where, long at, long address, int length, int type) {
        where.set(U64, at + SGL_ADDRESS, address);
        where.set(U32, at + SGL_LENGTH, length);
        where.set(ValueLayout.JAVA_BYTE, at + SGL_IDENTIFIER, (byte) (type << 4));
    }

    @Override
    public void close() throws IOException {
        if (msix != null) {
            msix.close();
        }
        if (owned != null) {
            owned.close();
        }
    }
}
