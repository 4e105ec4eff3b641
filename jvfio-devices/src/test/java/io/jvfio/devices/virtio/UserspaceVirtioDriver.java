package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;

import io.jvfio.client.Interrupts;
import io.jvfio.client.MappedRegion;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.DriverMemory;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * A tiny virtio-pci driver in Java over the jvfio client, as Linux's virtio_pci + virtio_blk
 * would drive the device: find the virtio capabilities, negotiate, set up split queues in
 * "guest" memory (shared with the server by fd, or reachable only by DMA messages), submit
 * block requests, notify, and take the MSI-X (or INTx) interrupt.
 */
final class UserspaceVirtioDriver implements AutoCloseable {
    static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;
    static final long MEMORY_IOVA = 0x10_0000, MEMORY_SIZE = 4 << 20;
    static final int QUEUE_SIZE = 16;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    final VfioUserClient client;
    final MemorySegment memory;
    /** The memory this driver allocated, or null for memory its caller owns. */
    private final DriverMemory owned;
    final Map<Integer, Long> capOffsets = new HashMap<>();
    final int bar, notifyBar;
    Interrupts msix;
    private long nextFree = 0x1_0000;
    private final Map<Integer, Queue> queues = new HashMap<>();
    MappedRegion mappedNotify;

    /** A queue's rings inside {@link #memory} (offsets relative to MEMORY_IOVA). */
    final class Queue {
        final int index;
        final long desc, avail, used;
        int nextDesc, availIdx, lastUsed;

        Queue(int index) {
            this.index = index;
            desc = alloc(QUEUE_SIZE * DESC_SIZE);
            avail = alloc(AVAIL_RING + 2 * QUEUE_SIZE + 2);
            used = alloc(USED_RING + USED_ELEM_SIZE * QUEUE_SIZE + 2);
        }

        /** Writes the next descriptor in turn; returns its index. */
        int descriptor(long iova, int length, int flags, int next) {
            int i = nextDesc++ % QUEUE_SIZE;
            descriptorAt(i, iova, length, flags, next);
            return i;
        }

        /** Writes descriptor {@code i} (a driver that keeps its own descriptor numbering). */
        void descriptorAt(int i, long iova, int length, int flags, int next) {
            long at = desc + (long) i * DESC_SIZE;
            memory.set(U64, at + DESC_ADDR, iova);
            memory.set(U32, at + DESC_LEN, length);
            memory.set(U16, at + DESC_FLAGS, (short) flags);
            memory.set(U16, at + DESC_NEXT, (short) next);
        }

        void makeAvailable(int head) {
            memory.set(U16, avail + AVAIL_RING + 2L * (availIdx % QUEUE_SIZE), (short) head);
            VarHandle.releaseFence(); // the ring entry before the index that publishes it
            availIdx++;
            memory.set(U16, avail + AVAIL_IDX, (short) availIdx);
        }

        int usedIdx() {
            int idx = Short.toUnsignedInt(memory.get(U16, used + USED_IDX));
            VarHandle.acquireFence(); // used entries are read only after the index that published them
            return idx;
        }

        /** The head of the chain in used-ring entry {@code slot}. */
        int usedId(int slot) {
            return memory.get(U32, used + USED_RING + (long) USED_ELEM_SIZE * (slot % QUEUE_SIZE));
        }

        /** EVENT_IDX: asks for an interrupt once the device's used index passes {@code usedIdx} (used_event). */
        void interruptAfter(int usedIdx) {
            memory.set(U16, avail + AVAIL_RING + 2L * QUEUE_SIZE, (short) usedIdx);
            VarHandle.fullFence(); // before re-reading the used index
        }

        long usedLength(int slot) {
            return Integer.toUnsignedLong(memory.get(U32, used + USED_RING + (long) USED_ELEM_SIZE * (slot % QUEUE_SIZE) + 4));
        }

        void notifyDevice() throws IOException {
            long at = capOffsets.get(PCI_CAP_NOTIFY_CFG) + (long) index * notifyMultiplier();
            if (mappedNotify != null) {
                mappedNotify.segment(at, 4).orElseThrow().set(U32, 0, index);
            } else {
                client.regionWrite(notifyBar, at, MemorySegment.ofArray(new byte[] {(byte) index, (byte) (index >> 8)}), true);
            }
        }
    }

    /** @param sharedMemory whether the "guest" memory is given to the server by fd */
    UserspaceVirtioDriver(VfioUserClient client, boolean sharedMemory) throws IOException {
        this.client = client;
        owned = new DriverMemory(client, MEMORY_IOVA, MEMORY_SIZE, sharedMemory);
        memory = owned.segment();
        int[] found = findCapabilities();
        this.bar = found[0];
        this.notifyBar = found[1];
    }

    /**
     * Over "guest" memory the caller owns and has already given the server at {@link #MEMORY_IOVA}
     * (two servers may share it: a migration's source and destination).
     */
    UserspaceVirtioDriver(VfioUserClient client, MemorySegment memory) throws IOException {
        this.client = client;
        this.memory = memory;
        this.owned = null;
        int[] found = findCapabilities();
        this.bar = found[0];
        this.notifyBar = found[1];
    }

    /** The BARs of the common configuration and of the notify area; records every capability's offset. */
    private int[] findCapabilities() throws IOException {
        int bars = -1, notifyBars = -1;
        for (int at = client.read8(CONFIG, 0x34); at != 0; at = client.read8(CONFIG, at + 1)) {
            if (client.read8(CONFIG, at) == 0x09) {
                capOffsets.put(client.read8(CONFIG, at + PCI_CAP_CFG_TYPE), (long) client.read32(CONFIG, at + PCI_CAP_OFFSET));
                if (client.read8(CONFIG, at + PCI_CAP_CFG_TYPE) == PCI_CAP_COMMON_CFG) {
                    bars = client.read8(CONFIG, at + PCI_CAP_BAR);
                }
                if (client.read8(CONFIG, at + PCI_CAP_CFG_TYPE) == PCI_CAP_NOTIFY_CFG) {
                    notifyBars = client.read8(CONFIG, at + PCI_CAP_BAR);
                    capOffsets.put(-1, (long) client.read32(CONFIG, at + PCI_NOTIFY_CAP_MULTIPLIER));
                }
            }
        }
        return new int[] {bars, notifyBars};
    }

    long alloc(long bytes) {
        long at = nextFree;
        nextFree = (nextFree + bytes + 4095) & ~4095L;
        return at;
    }

    long iova(long offset) {
        return MEMORY_IOVA + offset;
    }

    int notifyMultiplier() {
        return (int) (long) capOffsets.get(-1);
    }

    long common(int field) {
        return capOffsets.get(PCI_CAP_COMMON_CFG) + field;
    }

    int status() throws IOException {
        return client.read8(bar, common(COMMON_DEVICE_STATUS));
    }

    void setStatus(int status) throws IOException {
        client.write8(bar, common(COMMON_DEVICE_STATUS), status);
    }

    long deviceFeatures() throws IOException {
        client.write32(bar, common(COMMON_DEVICE_FEATURE_SELECT), 0);
        long low = Integer.toUnsignedLong(client.read32(bar, common(COMMON_DEVICE_FEATURE)));
        client.write32(bar, common(COMMON_DEVICE_FEATURE_SELECT), 1);
        return low | (long) client.read32(bar, common(COMMON_DEVICE_FEATURE)) << 32;
    }

    /** Writes the driver features and sets FEATURES_OK; returns whether the device kept it. */
    /** Device reset as Linux does it: write 0, then wait until the status reads 0 (in-flight work done). */
    void resetDevice() throws IOException {
        setStatus(0);
        awaitStatusZero();
    }

    void awaitStatusZero() throws IOException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (status() != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the device status never read 0 after a reset");
            }
            Thread.onSpinWait();
        }
    }

    boolean negotiate(long features) throws IOException {
        resetDevice();
        setStatus(STATUS_ACKNOWLEDGE);
        setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        for (int half = 0; half < 2; half++) {
            client.write32(bar, common(COMMON_DRIVER_FEATURE_SELECT), half);
            client.write32(bar, common(COMMON_DRIVER_FEATURE), (int) (features >>> (32 * half)));
        }
        setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        return (status() & STATUS_FEATURES_OK) != 0;
    }

    /** Enables MSI-X in config space and wires one eventfd per vector. */
    void enableMsix(int vectors) throws IOException {
        for (int at = client.read8(CONFIG, 0x34); at != 0; at = client.read8(CONFIG, at + 1)) {
            if (client.read8(CONFIG, at) == 0x11) {
                client.write16(CONFIG, at + 2, 0x8000);
            }
        }
        msix = client.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, vectors);
        client.write16(bar, common(COMMON_CONFIG_MSIX_VECTOR), 0);
    }

    /** Sets up queue {@code index} (MSI-X vector index + 1 when MSI-X is on) and enables it. */
    Queue setUpQueue(int index) throws IOException {
        Queue q = new Queue(index);
        client.write16(bar, common(COMMON_QUEUE_SELECT), index);
        client.write16(bar, common(COMMON_QUEUE_SIZE), QUEUE_SIZE);
        client.write32(bar, common(COMMON_QUEUE_DESC), (int) iova(q.desc));
        client.write32(bar, common(COMMON_QUEUE_DESC) + 4, (int) (iova(q.desc) >>> 32));
        client.write64(bar, common(COMMON_QUEUE_DRIVER), iova(q.avail));
        client.write32(bar, common(COMMON_QUEUE_DEVICE), (int) iova(q.used));
        client.write32(bar, common(COMMON_QUEUE_DEVICE) + 4, 0);
        if (msix != null) {
            client.write16(bar, common(COMMON_QUEUE_MSIX_VECTOR), index + 1);
        }
        client.write16(bar, common(COMMON_QUEUE_ENABLE), 1);
        queues.put(index, q);
        return q;
    }

    Queue setUpQueueIfAbsent(int index) throws IOException {
        Queue q = queues.get(index);
        return q != null ? q : setUpQueue(index);
    }

    void driverOk() throws IOException {
        setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    }

    /** Waits until the device has used {@code count} chains in total on {@code q}. */
    void awaitUsed(Queue q, int count) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (((q.usedIdx() - count) & 0xffff) != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("queue %d: used idx %d, expected %d".formatted(q.index, q.usedIdx(), count));
            }
            if (msix != null) {
                msix.await(q.index + 1, Duration.ofMillis(50));
            } else {
                Thread.sleep(1);
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (msix != null) {
            msix.close();
        }
        if (mappedNotify != null) {
            mappedNotify.close();
        }
        if (owned != null) {
            owned.close();
        }
    }
}
