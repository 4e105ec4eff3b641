package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;

import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.Capability;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.pci.MsixCapability;
import io.jvfio.linux.Errno;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.Migratable;
import io.jvfio.server.PciDevice;
import io.jvfio.server.SessionContext;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The virtio 1.x PCI transport (§4.1), modern and non-transitional: a device type's identity,
 * feature bits, configuration and request handling on top of everything virtio-pci shares —
 * the four vendor capabilities pointing into BAR 4, the common configuration ({@link CommonConfig}:
 * feature negotiation, device status, queue set-up), the notify area (polled: {@link PolledNotifyArea}),
 * ISR status with INTx, MSI-X vectors in BAR 1, and reset.
 *
 * <p>Each virtqueue has a worker thread: notifications wake it, it walks the available ring,
 * hands each descriptor chain to {@link #process}, returns it through the used ring and raises
 * the queue's interrupt as the driver's suppression state allows. Workers never run on the
 * session thread, so message-based DMA (guest memory not shared) works too. A malformed chain or
 * unreachable memory sets DEVICE_NEEDS_RESET and raises a configuration interrupt.
 *
 * <p>Live-migratable: a stop lets each worker finish the request it holds (its used entry
 * written, its interrupt held by the core and carried to the destination) and take no more;
 * the state is the negotiation, the status and, per queue, its configuration and progress (last
 * available index taken, next used index). Requests the driver made available but the source
 * never took stay in the ring, and the destination takes them when it starts, so each request
 * completes exactly once. A device type adds its own section through {@link #saveDeviceState}.
 */
public abstract class VirtioPciDevice extends PciDevice implements Migratable {
    /**
     * BAR 4 layout: one page per structure, so the notify page alone can be mapped into the guest
     * (with {@link NotifyMode#POLLED} it is a SPARSE_MMAP area of the BAR; the rest stays trapped).
     */
    static final int CONFIG_BAR = 4;
    static final long COMMON_OFFSET = 0x0000, ISR_OFFSET = 0x1000, DEVICE_OFFSET = 0x2000, NOTIFY_OFFSET = 0x3000;
    static final long PAGE = 0x1000;
    static final long CONFIG_BAR_SIZE = 0x4000;
    /** Each queue notifies at its own dword: queue_notify_off = queue index. */
    static final int NOTIFY_MULTIPLIER = 4;
    // BAR 1: the MSI-X table (emulated by the client; we keep only storage) and the PBA.
    static final int MSIX_BAR = 1;
    static final long MSIX_TABLE_OFFSET = 0x0000, MSIX_PBA_OFFSET = 0x0800, MSIX_BAR_SIZE = 0x1000;
    /** How long a stop waits for the requests in progress before it gives up (EBUSY). */
    private static final long QUIESCE_TIMEOUT_NANOS = 10_000_000_000L;
    /** A held completion looks this often whether a reset or shutdown ended its wait. */
    private static final long HOLD_CHECK_NANOS = 50_000_000L;
    private static final String STATE = "virtio", QUEUE_STATE = "virtio.queue.";
    private static final int STATE_VERSION = 1, QUEUE_STATE_VERSION = 1;

    private static final System.Logger LOG = System.getLogger(VirtioPciDevice.class.getName());

    private final int deviceConfigSize;
    private final Virtqueue[] queues;
    private final Worker[] workers;
    private final NotifyMode notifyMode;
    /** The notify page with {@link NotifyMode#POLLED}, else null. */
    private final PolledNotifyArea polledNotify;

    // Driver-visible state; changed under this object's lock.
    private final CommonConfig common;
    private int isr;
    /** Bumped by every reset: work of an older epoch is dropped, never completed into new rings. */
    private volatile int epoch;
    private final AtomicInteger busyWorkers = new AtomicInteger();
    /** A migration stopped the device: workers take no request until {@link #resume()}. */
    private volatile boolean stopped;
    private volatile boolean closed;

    /**
     * @param deviceType       the virtio device type (§5), e.g. {@link Virtio#DEVICE_TYPE_BLOCK}
     * @param classCode        the PCI class code to report
     * @param deviceFeatures   device-specific feature bits; VERSION_1, INDIRECT_DESC and EVENT_IDX are added
     * @param deviceConfigSize bytes of device-specific configuration
     * @param queueCount       virtqueues
     * @param queueSize        the largest size of each queue (a power of two)
     */
    protected VirtioPciDevice(int deviceType, int classCode, long deviceFeatures, int deviceConfigSize,
                              int queueCount, int queueSize, NotifyMode notifyMode) {
        super(configSpace(deviceType, classCode, deviceConfigSize, queueCount));
        if (queueSize < 1 || queueSize > MAX_QUEUE_SIZE || Integer.bitCount(queueSize) != 1) {
            throw new IllegalArgumentException("queue size " + queueSize + " is not a power of two up to " + MAX_QUEUE_SIZE);
        }
        this.deviceConfigSize = deviceConfigSize;
        this.notifyMode = notifyMode;
        this.queues = new Virtqueue[queueCount];
        this.workers = new Worker[queueCount];
        for (int i = 0; i < queueCount; i++) {
            queues[i] = new Virtqueue(i, queueSize);
        }
        this.common = new CommonConfig(deviceFeatures | featureBit(F_VERSION_1) | featureBit(F_RING_INDIRECT_DESC)
                | featureBit(F_RING_EVENT_IDX), queues, new CommonConfig.Lifecycle() {
            @Override
            public void resetRequested() {
                virtioReset();
            }

            @Override
            public void driverOk() {
                start();
            }

            @Override
            public boolean requestInProgress() {
                return busyWorkers.get() > 0;
            }
        });
        if (notifyMode == NotifyMode.POLLED) {
            this.polledNotify = new PolledNotifyArea(queueCount, NOTIFY_MULTIPLIER, NOTIFY_OFFSET, PAGE, this::kick);
            // A client that does not map the page still notifies through trapped writes to the ConfigBar.
            bar(CONFIG_BAR, new ConfigBar(), polledNotify.mmap());
        } else {
            this.polledNotify = null;
            bar(CONFIG_BAR, new ConfigBar());
        }
    }

    private static ConfigSpace configSpace(int deviceType, int classCode, int deviceConfigSize, int queueCount) {
        return ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(PCI_VENDOR_ID).deviceId(PCI_DEVICE_ID_BASE + deviceType)
                .subsystemVendorId(PCI_VENDOR_ID).subsystemId(PCI_SUBSYSTEM_ID_MODERN)
                .revision(PCI_MODERN_REVISION)
                .classCode(classCode)
                .interruptPin(1)
                .bar(Bar.memory32(MSIX_BAR, MSIX_BAR_SIZE))
                .bar(Bar.memory64(CONFIG_BAR, CONFIG_BAR_SIZE, true))
                .capability(Capabilities.msix(queueCount + 1, MSIX_BAR, MSIX_TABLE_OFFSET, MSIX_BAR, MSIX_PBA_OFFSET))
                .capability(virtioCap(PCI_CAP_COMMON_CFG, CONFIG_BAR, COMMON_OFFSET, COMMON_CFG_SIZE, -1))
                .capability(virtioCap(PCI_CAP_ISR_CFG, CONFIG_BAR, ISR_OFFSET, 1, -1))
                .capability(virtioCap(PCI_CAP_DEVICE_CFG, CONFIG_BAR, DEVICE_OFFSET, deviceConfigSize, -1))
                .capability(virtioCap(PCI_CAP_NOTIFY_CFG, CONFIG_BAR, NOTIFY_OFFSET,
                        (long) queueCount * NOTIFY_MULTIPLIER, NOTIFY_MULTIPLIER))
                .build();
    }

    /** struct virtio_pci_cap (plus notify_off_multiplier for the notify capability), read-only. */
    private static Capability virtioCap(int cfgType, int bar, long offset, long length, int notifyMultiplier) {
        int size = notifyMultiplier < 0 ? PCI_CAP_SIZE : PCI_NOTIFY_CAP_SIZE;
        // vendorSpecific() prepends id, next and length: its data starts at capability offset 3.
        MemorySegment data = MemorySegment.ofArray(new byte[size - PCI_CAP_CFG_TYPE]);
        int base = PCI_CAP_CFG_TYPE;
        data.set(ValueLayout.JAVA_BYTE, PCI_CAP_CFG_TYPE - base, (byte) cfgType);
        data.set(ValueLayout.JAVA_BYTE, PCI_CAP_BAR - base, (byte) bar);
        data.set(ValueLayout.JAVA_INT_UNALIGNED, PCI_CAP_OFFSET - base, (int) offset);
        data.set(ValueLayout.JAVA_INT_UNALIGNED, PCI_CAP_LENGTH - base, (int) length);
        if (notifyMultiplier >= 0) {
            data.set(ValueLayout.JAVA_INT_UNALIGNED, PCI_NOTIFY_CAP_MULTIPLIER - base, notifyMultiplier);
        }
        return Capabilities.vendorSpecific(data.toArray(ValueLayout.JAVA_BYTE));
    }

    // ------------------------------------------------------------------ what a device type supplies

    /** Reads the device-specific configuration (offset relative to its start, bounds checked). */
    protected abstract void readDeviceConfig(int offset, MemorySegment dst);

    /** Writes to the device-specific configuration; most device types ignore them. */
    protected void writeDeviceConfig(int offset, MemorySegment src) {}

    /**
     * Handles one request on a worker thread and returns how many bytes it wrote into the
     * chain's device-writable buffers. A {@link VirtioFault} makes the device need a reset.
     */
    protected abstract long process(int queue, DescriptorChain chain, GuestMemory memory) throws VirtioFault;

    /** Adds the device type's own migration sections (its configuration, to be checked on load). */
    protected void saveDeviceState(StateWriter out) {}

    /** Reads what {@link #saveDeviceState} wrote; EINVAL when this device cannot take it. */
    protected void loadDeviceState(StateReader in) throws VfioException {}

    // ------------------------------------------------------------------ state for device types and tests

    /** Whether the driver accepted feature {@code bit}. */
    protected final boolean negotiated(int bit) {
        return common.negotiated(bit);
    }

    /** The device status as the driver last set it (plus DEVICE_NEEDS_RESET). */
    public final int status() {
        return common.status();
    }

    public final int queueCount() {
        return queues.length;
    }

    public final NotifyMode notifyMode() {
        return notifyMode;
    }

    /**
     * Notifications the device took from its notify page as the client mapped it (stores, no
     * message; stores to a dword before the poller looks again count once); always 0 with
     * {@link NotifyMode#TRAPPED}. Trapped notify writes are not counted.
     */
    public final long polledNotifications() {
        return polledNotify == null ? 0 : polledNotify.notifications();
    }

    // ------------------------------------------------------------------ BAR 4

    private final class ConfigBar implements RegionHandler {
        @Override
        public void read(long offset, MemorySegment dst) throws VfioException {
            int size = (int) dst.byteSize();
            if (offset >= COMMON_OFFSET && offset + size <= COMMON_OFFSET + COMMON_CFG_SIZE) {
                put(dst, readCommon((int) (offset - COMMON_OFFSET), size));
            } else if (offset == ISR_OFFSET) {
                dst.fill((byte) 0);
                dst.set(ValueLayout.JAVA_BYTE, 0, (byte) readAndClearIsr());
            } else if (offset >= DEVICE_OFFSET && offset + size <= DEVICE_OFFSET + deviceConfigSize) {
                readDeviceConfig((int) (offset - DEVICE_OFFSET), dst);
            } else {
                dst.fill((byte) 0); // reserved: reads as zero
            }
        }

        @Override
        public void write(long offset, MemorySegment src) throws VfioException {
            int size = (int) src.byteSize();
            if (offset >= NOTIFY_OFFSET && offset < NOTIFY_OFFSET + (long) queues.length * NOTIFY_MULTIPLIER) {
                kick((int) ((offset - NOTIFY_OFFSET) / NOTIFY_MULTIPLIER));
            } else if (offset >= COMMON_OFFSET && offset + size <= COMMON_OFFSET + COMMON_CFG_SIZE) {
                writeCommon((int) (offset - COMMON_OFFSET), size, get(src));
            } else if (offset >= DEVICE_OFFSET && offset + size <= DEVICE_OFFSET + deviceConfigSize) {
                writeDeviceConfig((int) (offset - DEVICE_OFFSET), src);
            }
            // anything else (ISR, reserved) is read-only: writes are dropped
        }
    }

    private static long get(MemorySegment src) {
        long value = 0;
        for (int i = (int) src.byteSize() - 1; i >= 0; i--) {
            value = value << 8 | Byte.toUnsignedLong(src.get(ValueLayout.JAVA_BYTE, i));
        }
        return value;
    }

    private static void put(MemorySegment dst, long value) {
        for (int i = 0; i < dst.byteSize(); i++) {
            dst.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
    }

    private synchronized long readCommon(int offset, int size) {
        return common.read(offset, size);
    }

    private synchronized void writeCommon(int offset, int size, long value) {
        common.write(offset, size, value);
    }

    private int readAndClearIsr() {
        synchronized (this) {
            int value = isr;
            isr = 0;
            if (value != 0) {
                setIntx(false);
            }
            return value;
        }
    }

    // ------------------------------------------------------------------ queues at work

    /** DRIVER_OK: the enabled queues go live. Under the lock. */
    private void start() {
        boolean eventIdx = negotiated(F_RING_EVENT_IDX), indirect = negotiated(F_RING_INDIRECT_DESC);
        for (int i = 0; i < queues.length; i++) {
            Virtqueue q = queues[i];
            if (!q.enabled) {
                continue;
            }
            q.activate(eventIdx, indirect);
        }
        runQueues();
    }

    /** Workers for the enabled queues, each kicked once: buffers made available before DRIVER_OK (or a migration). Under the lock. */
    private void runQueues() {
        for (int i = 0; i < queues.length; i++) {
            if (!queues[i].enabled) {
                continue;
            }
            if (workers[i] == null) {
                workers[i] = new Worker(queues[i]);
                workers[i].thread.start();
            }
            kick(i);
        }
        if (polledNotify != null) {
            polledNotify.startPolling(name() + "-notify-poller");
        }
    }

    private void kick(int queue) {
        Worker w = workers[queue];
        if (w != null) {
            w.kick();
        }
    }

    /**
     * Device reset (status 0, DEVICE_RESET, client gone): queues and negotiation back to power-on
     * state. Workers busy with a request finish it into the void: the new epoch drops their result.
     */
    private synchronized void virtioReset() {
        epoch++;
        common.reset();
        isr = 0;
        for (Virtqueue q : queues) {
            q.reset();
        }
        if (polledNotify != null) {
            polledNotify.clear();
        }
    }

    private boolean msixEnabled() {
        return config().msix().map(MsixCapability::enabled).orElse(false);
    }

    private void interruptQueue(Virtqueue q) {
        if (msixEnabled()) {
            int vector = q.msixVector;
            if (vector != NO_VECTOR) {
                raise(vector);
            }
        } else {
            synchronized (this) {
                isr |= ISR_QUEUE;
                setIntx(true);
            }
        }
    }

    /**
     * Sets DEVICE_NEEDS_RESET now and raises the configuration change interrupt, as device-side
     * trouble would (a fault rule's doing); whether it did — only while the driver runs (DRIVER_OK).
     */
    protected final boolean requestReset(String why) {
        return needsReset(epoch, why);
    }

    /**
     * Holds the request in progress on this worker for {@code delay} before it completes (a fault
     * rule's doing); a device reset or shutdown cuts the wait short.
     */
    protected final void holdCompletion(Duration delay) {
        int workEpoch = epoch;
        long deadline = System.nanoTime() + delay.toNanos();
        for (long left; !closed && workEpoch == epoch && (left = deadline - System.nanoTime()) > 0; ) {
            LockSupport.parkNanos(this, Math.min(left, HOLD_CHECK_NANOS));
        }
    }

    /** Device-side trouble: DEVICE_NEEDS_RESET and a configuration change interrupt (§2.1.2); whether it was set. */
    private boolean needsReset(int workEpoch, String why) {
        synchronized (this) {
            if (workEpoch != epoch || (common.status() & STATUS_DRIVER_OK) == 0) {
                return false;  // a reset already came; the fault belongs to the old driver
            }
            LOG.log(System.Logger.Level.WARNING, name() + " needs a reset: " + why);
            common.markNeedsReset();
            if (!msixEnabled()) {
                isr |= ISR_CONFIG;
                setIntx(true);
                return true;
            }
        }
        int vector = common.configMsixVector();
        if (vector != NO_VECTOR) {
            raise(vector);
        }
        return true;
    }

    /** One thread per virtqueue: sleeps until notified, then drains the available ring. */
    private final class Worker {
        private final Virtqueue queue;
        private final Thread thread;
        private final AtomicBoolean kicked = new AtomicBoolean();
        private final DescriptorChain chain;

        Worker(Virtqueue queue) {
            this.queue = queue;
            this.chain = new DescriptorChain(queue.maxSize);
            this.thread = Thread.ofPlatform().daemon().name(name() + "-queue-" + queue.index).unstarted(this::run);
        }

        void kick() {
            if (!kicked.getAndSet(true)) {
                LockSupport.unpark(thread);
            }
        }

        private void run() {
            while (!closed) {
                while (!kicked.getAndSet(false)) {
                    LockSupport.park(this);
                    if (closed) {
                        return;
                    }
                }
                busyWorkers.incrementAndGet();
                int workEpoch = epoch;
                try {
                    if ((common.status() & (STATUS_DRIVER_OK | STATUS_DEVICE_NEEDS_RESET)) == STATUS_DRIVER_OK && queue.enabled
                            && !stopped) {
                        drain(workEpoch);
                    }
                } catch (VirtioFault e) {
                    needsReset(workEpoch, "queue %d: %s".formatted(queue.index, e.getMessage()));
                } catch (RuntimeException e) {
                    // A bug or a memory window gone mid-request: the device stops, the JVM does not.
                    needsReset(workEpoch, "queue %d: %s".formatted(queue.index, e));
                } finally {
                    busyWorkers.decrementAndGet();
                }
            }
        }

        private void drain(int workEpoch) throws VirtioFault {
            Optional<SessionContext> context = context();
            if (context.isEmpty()) {
                return;
            }
            GuestMemory memory = new GuestMemory(context.get().dma());
            queue.begin(memory);
            do {
                int head;
                while (!stopped && (head = queue.nextAvailable()) >= 0) {
                    chain.walk(memory, queue.descriptorTable(), queue.size, head, queue.indirectAllowed());
                    long written = process(queue.index, chain, memory);
                    if (workEpoch != epoch) {
                        return;   // reset meanwhile: these rings are no longer the driver's
                    }
                    queue.putUsed(head, written);
                    if (queue.publishUsed()) {
                        interruptQueue(queue);
                    }
                }
                if (stopped) {
                    return;   // the rest stays available: the device takes it when it runs again
                }
            } while (queue.armNotification() && workEpoch == epoch);
        }
    }

    // ------------------------------------------------------------------ migration

    @Override
    public synchronized void saveState(StateWriter out) {
        common.save(out.section(STATE, STATE_VERSION).u16(queues.length)).u8(isr);
        for (Virtqueue q : queues) {
            // The progress fields belong to the worker; after a stop it is idle, and a pre-copy
            // snapshot taken while it runs is sent again at the stop.
            out.section(QUEUE_STATE + q.index, QUEUE_STATE_VERSION)
                    .u16(q.size).u16(q.msixVector).bool(q.enabled)
                    .u64(q.descAddress).u64(q.driverAddress).u64(q.deviceAddress)
                    .u16(q.lastAvail()).u16(q.nextUsed()).u16(q.usedAtLastCheck());
        }
        saveDeviceState(out);
    }

    @Override
    public synchronized void loadState(StateReader in) throws VfioException {
        StateReader.Section s = in.section(STATE).requireVersion(STATE_VERSION);
        int queueCount = s.u16();
        if (queueCount != queues.length) {
            throw VfioException.invalid("the source device has %d queues, this one %d".formatted(queueCount, queues.length));
        }
        CommonConfig.Saved loadedCommon = common.load(s);
        int loadedIsr = s.u8();
        record QueueState(int size, int vector, boolean enabled, long desc, long driver, long device,
                          int lastAvail, int nextUsed, int usedAtLastCheck) {}
        QueueState[] loaded = new QueueState[queues.length];
        for (Virtqueue q : queues) {
            StateReader.Section qs = in.section(QUEUE_STATE + q.index).requireVersion(QUEUE_STATE_VERSION);
            QueueState state = new QueueState(qs.u16(), qs.u16(), qs.bool(), qs.u64(), qs.u64(), qs.u64(),
                    qs.u16(), qs.u16(), qs.u16());
            if (state.size() < 1 || state.size() > q.maxSize || Integer.bitCount(state.size()) != 1) {
                throw VfioException.invalid("queue %d has size %d; this device's queues hold up to %d".formatted(q.index, state.size(), q.maxSize));
            }
            if (state.vector() != NO_VECTOR && common.validVector(state.vector()) != state.vector()) {
                throw VfioException.invalid("queue %d: MSI-X vector %d is beyond this device's %d".formatted(q.index, state.vector(), queues.length + 1));
            }
            loaded[q.index] = state;
        }
        loadDeviceState(in);
        // Everything checked: apply. Work of the old epoch (if this device ran before) is dropped.
        epoch++;
        common.restore(loadedCommon);
        isr = loadedIsr;
        boolean eventIdx = negotiated(F_RING_EVENT_IDX), indirect = negotiated(F_RING_INDIRECT_DESC);
        for (Virtqueue q : queues) {
            QueueState state = loaded[q.index];
            q.size = state.size();
            q.msixVector = state.vector();
            q.enabled = state.enabled();
            q.descAddress = state.desc();
            q.driverAddress = state.driver();
            q.deviceAddress = state.device();
            q.restore(eventIdx, indirect, state.lastAvail(), state.nextUsed(), state.usedAtLastCheck());
        }
        if (polledNotify != null) {
            polledNotify.clear();
        }
    }

    /**
     * Lets each worker finish the request it holds and take no more. The finished requests'
     * used entries are written; their interrupts are held by the core (and carried to the
     * destination). EBUSY if a request does not finish within 10 s.
     */
    @Override
    public void quiesce() throws VfioException {
        stopped = true;
        long deadline = System.nanoTime() + QUIESCE_TIMEOUT_NANOS;
        while (busyWorkers.get() > 0) {
            if (System.nanoTime() - deadline > 0) {
                stopped = false;
                throw new VfioException(Errno.EBUSY, "%s: a request did not finish within %d s of the stop"
                        .formatted(name(), QUIESCE_TIMEOUT_NANOS / 1_000_000_000L));
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Runs again: each live queue is looked at, as requests may have been made available while stopped. */
    @Override
    public synchronized void resume() {
        stopped = false;
        if ((common.status() & (STATUS_DRIVER_OK | STATUS_FEATURES_OK | STATUS_DEVICE_NEEDS_RESET))
                == (STATUS_DRIVER_OK | STATUS_FEATURES_OK)) {
            runQueues();
        }
    }

    // ------------------------------------------------------------------ lifecycle

    @Override
    protected void resetDevice() throws VfioException {
        virtioReset();
    }

    /** The client went away: its rings are gone with its memory, so the device starts over. */
    @Override
    public void close() {
        super.close();
        virtioReset();
    }

    /** Stops the workers for good and releases the notify page; the device serves no more clients. */
    public void shutdown() {
        closed = true;
        for (Worker w : workers) {
            if (w != null) {
                LockSupport.unpark(w.thread);
            }
        }
        if (polledNotify != null) {
            polledNotify.close();
        }
    }
}
