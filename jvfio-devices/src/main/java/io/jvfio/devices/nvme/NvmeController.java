package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.Nvme.*;

import io.jvfio.devices.storage.BlockStore;
import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.pci.PcieDeviceType;
import io.jvfio.server.DmaView;
import io.jvfio.server.PciDevice;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.VfioException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * An NVM Express 1.4 controller over PCI Express (class 01:08:02) that Linux's nvme driver
 * binds to: BAR 0 (64-bit) holds the controller registers, the doorbells from 0x1000 (stride 4,
 * trapped) and the MSI-X table and PBA; one MSI-X vector per completion queue (the admin queue
 * and up to 64 I/O queue pairs), INTx when MSI-X is off (level: asserted while an interrupting
 * completion queue holds unconsumed entries and INTMS leaves its vector unmasked).
 *
 * <p>The CC.EN handshake: 0→1 checks the admin queue registers and CC (CSS, MPS, AMS), sets
 * CSTS.CFS when they are wrong, else creates the admin queues and sets RDY; 1→0 deletes every
 * queue, drops outstanding work, restores the features' defaults and clears CSTS once the
 * queue workers have stopped. CC.SHN flushes every namespace and reports SHST complete.
 * DEVICE_RESET and a client disconnect reset the controller at once. A queue that cannot reach
 * host memory sets CSTS.CFS, as a real controller reports an internal fatal error.
 *
 * <p>Each submission queue has a worker thread ({@link SubmissionQueue}); trapped doorbell
 * writes only record the new tail or head and wake it, so the session thread never waits for
 * a command, and message-based DMA (unshared guest memory) works. Once the host sends Doorbell
 * Buffer Config (OACS bit 8), the I/O queues also read their tails and heads from its shadow
 * doorbell buffer and publish EventIdx ({@link ShadowDoorbell}), so at depth the host seldom rings;
 * admin doorbells stay trapped only, as Linux uses them. Resets forget the buffers.
 * {@link #doorbellStatistics()} counts trapped doorbells against commands.
 *
 * <pre>{@code
 * NvmeController nvme = NvmeController.builder().namespace(BlockImage.open(path, 0, false)).build();
 * VfioUserServer.bind(socket, nvme, ServerOptions.defaults()).start();
 * }</pre>
 */
public final class NvmeController extends PciDevice {
    /** jvfio's PCI ids (no vendor quirks apply to them); Linux binds nvme by class code. */
    public static final int VENDOR_ID = 0x4a56, DEVICE_ID = 0x0e01;
    public static final int CLASS_CODE = 0x010802;
    public static final int MAX_IO_QUEUE_PAIRS = 64;
    /** An MSI-X vector per completion queue: the admin queue and every I/O queue. */
    static final int VECTORS = MAX_IO_QUEUE_PAIRS + 1;
    /** Largest queue (0-based MQES + 1): Linux's default I/O queue depth. */
    static final int MAX_QUEUE_ENTRIES = 1024;
    /** CAP.TO in 500 ms units: 15 s, generous for a trapped controller under TCG. */
    static final int READY_TIMEOUT = 30;
    /** MDTS: 2^7 pages = 512 KiB per command. */
    public static final int DEFAULT_MDTS = 7;
    static final int BAR_INDEX = 0;
    static final long BAR_SIZE = 0x4000, MSIX_TABLE_OFFSET = 0x2000, MSIX_PBA_OFFSET = 0x3000;
    static final long CAP = (MAX_QUEUE_ENTRIES - 1) | 1L << CAP_CQR_SHIFT | (long) READY_TIMEOUT << CAP_TO_SHIFT
            | (long) CAP_CSS_NVM << CAP_CSS_SHIFT;
    private static final long TEARDOWN_JOIN_MILLIS = 10_000;

    private static final System.Logger LOG = System.getLogger(NvmeController.class.getName());

    final Features features = new Features(MAX_IO_QUEUE_PAIRS, VECTORS);
    final Identify identify;
    final LogPages logs;
    final AsyncEvents events;
    private final ControllerIdentity controllerIdentity;
    private final List<Namespace> namespaces;
    private final AtomicReferenceArray<SubmissionQueue> sqs = new AtomicReferenceArray<>(VECTORS);
    private final AtomicReferenceArray<CompletionQueue> cqs = new AtomicReferenceArray<>(VECTORS);
    private final int msixFlagsOffset;
    private final Object intxLock = new Object();
    private final SubmissionQueue.Host host = new QueueHost();
    private final DoorbellStatistics doorbellStatistics = new DoorbellStatistics();
    /** Set by Doorbell Buffer Config until the next reset. */
    private volatile ShadowBuffers shadowBuffers;

    // Registers; written under this object's lock.
    private int cc, aqa;
    private volatile int intms;
    private volatile int csts;
    private long asq, acq;
    /** Bumped by every enable and reset: a teardown of an older generation does not touch CSTS. */
    private int generation;
    /** The controller is enabled and ready: doorbells are served. */
    private volatile boolean ready;

    private NvmeController(ControllerIdentity identity, List<BlockStore> stores, int lbaShift) {
        super(configSpace(identity.vendorId()));
        this.controllerIdentity = identity;
        List<Namespace> list = new ArrayList<>();
        for (BlockStore store : stores) {
            list.add(Namespace.of(list.size() + 1, store, lbaShift, identity.serial()));
        }
        this.namespaces = List.copyOf(list);
        this.identify = new Identify(identity, namespaces);
        this.logs = new LogPages(identity.firmware());
        this.events = new AsyncEvents(features, logs);
        this.msixFlagsOffset = config().msix().orElseThrow().offset() + 2;
        bar(BAR_INDEX, new Registers());
    }

    private static ConfigSpace configSpace(int vendorId) {
        return ConfigSpace.builder(ConfigSpace.Size.PCIE)
                .vendorId(vendorId).deviceId(DEVICE_ID)
                .subsystemVendorId(vendorId).subsystemId(DEVICE_ID)
                .classCode(CLASS_CODE)
                .interruptPin(1)
                .bar(Bar.memory64(BAR_INDEX, BAR_SIZE, false))
                .capability(Capabilities.powerManagement())
                .capability(Capabilities.msix(VECTORS, BAR_INDEX, MSIX_TABLE_OFFSET, BAR_INDEX, MSIX_PBA_OFFSET))
                .capability(Capabilities.pciExpress(PcieDeviceType.ENDPOINT))
                .build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Namespace sizes in bytes, by namespace id - 1. */
    public List<Long> namespaceSizes() {
        return namespaces.stream().map(ns -> ns.blocks() << ns.lbaShift()).toList();
    }

    public String serial() {
        return controllerIdentity.serial();
    }

    public String model() {
        return controllerIdentity.model();
    }

    /** Trapped doorbell writes, I/O commands and shadow doorbell setups so far. */
    public DoorbellStatistics doorbellStatistics() {
        return doorbellStatistics;
    }

    /** Raises asynchronous events (SMART critical warnings, namespace changes, any other) for the host. */
    public AsyncEvents asyncEvents() {
        return events;
    }

    /** CSTS as the host reads it. */
    public int status() {
        return csts;
    }

    // ------------------------------------------------------------------ BAR 0: registers and doorbells

    private final class Registers implements RegionHandler {
        @Override
        public void read(long offset, MemorySegment dst) {
            for (int i = 0; i < dst.byteSize(); i++) {
                long at = offset + i;
                int dword = at < DOORBELLS ? readRegister((int) at & ~3) : 0;   // doorbells read as 0
                dst.set(ValueLayout.JAVA_BYTE, i, (byte) (dword >>> 8 * (at & 3)));
            }
        }

        @Override
        public void write(long offset, MemorySegment src) {
            long size = src.byteSize();
            if ((size != 4 && size != 8) || (offset & 3) != 0) {
                LOG.log(System.Logger.Level.DEBUG, "{0}: ignored a {1}-byte register write at 0x{2}", name(), size,
                        Long.toHexString(offset));
                return;   // registers are written as dwords or qwords (§3.1)
            }
            writeDword(offset, src.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
            if (size == 8) {
                writeDword(offset + 4, src.get(ValueLayout.JAVA_INT_UNALIGNED, 4));
            }
        }
    }

    private synchronized int readRegister(int offset) {
        return switch (offset) {
            case REG_CAP -> (int) CAP;
            case REG_CAP + 4 -> (int) (CAP >>> 32);
            case REG_VS -> VERSION_1_4;
            case REG_INTMS, REG_INTMC -> intms;
            case REG_CC -> cc;
            case REG_CSTS -> csts;
            case REG_AQA -> aqa;
            case REG_ASQ -> (int) asq;
            case REG_ASQ + 4 -> (int) (asq >>> 32);
            case REG_ACQ -> (int) acq;
            case REG_ACQ + 4 -> (int) (acq >>> 32);
            default -> 0;   // NSSR (no subsystem reset), CMB and PMR registers (none): 0
        };
    }

    private void writeDword(long offset, int value) {
        if (offset >= DOORBELLS) {
            doorbell((int) ((offset - DOORBELLS) / DOORBELL_STRIDE), value);
            return;
        }
        synchronized (this) {
            switch ((int) offset) {
                case REG_INTMS -> intms |= value;
                case REG_INTMC -> intms &= ~value;
                case REG_CC -> writeCc(value);
                case REG_AQA -> aqa = value & (AQA_SIZE_MASK | AQA_SIZE_MASK << AQA_ACQS_SHIFT);
                case REG_ASQ -> asq = asq & ~0xffff_ffffL | Integer.toUnsignedLong(value);
                case REG_ASQ + 4 -> asq = asq & 0xffff_ffffL | (long) value << 32;
                case REG_ACQ -> acq = acq & ~0xffff_ffffL | Integer.toUnsignedLong(value);
                case REG_ACQ + 4 -> acq = acq & 0xffff_ffffL | (long) value << 32;
                default -> { }   // read-only or reserved
            }
        }
        if (offset == REG_INTMS || offset == REG_INTMC) {
            updateIntx();
        }
    }

    /**
     * A doorbell: even slots are submission queue tails, odd ones completion queue heads.
     * Writes to queues that do not exist, values beyond a queue and writes while the controller
     * is not ready are ignored.
     */
    private void doorbell(int slot, int value) {
        int qid = slot >>> 1;
        if (!ready || qid >= VECTORS || (value & ~0xffff) != 0) {
            return;
        }
        if (qid != 0) {
            doorbellStatistics.trappedDoorbell(slot);
        }
        if ((slot & 1) == 0) {
            SubmissionQueue sq = sqs.get(qid);
            if (sq != null) {
                sq.moveTail(value);
            }
        } else {
            CompletionQueue cq = cqs.get(qid);
            if (cq != null && cq.moveHead(value) && !msixEnabled()) {
                updateIntx();
            }
        }
    }

    // ------------------------------------------------------------------ enable, disable, shutdown

    /** Under the lock. */
    private void writeCc(int value) {
        int old = cc;
        cc = value;
        boolean wasEnabled = (old & CC_EN) != 0, enabled = (value & CC_EN) != 0;
        if (!wasEnabled && enabled) {
            enable();
        } else if (wasEnabled && !enabled) {
            disable();
        }
        int shn = value >>> CC_SHN_SHIFT & CC_SHN_MASK, oldShn = old >>> CC_SHN_SHIFT & CC_SHN_MASK;
        if (shn != 0 && oldShn == 0) {
            shutdownNotification();
        }
    }

    /** EN 0→1 (§7.6.1): the admin queues from AQA/ASQ/ACQ, if they and CC are valid. Under the lock. */
    private void enable() {
        int css = cc >>> CC_CSS_SHIFT & CC_CSS_MASK, mps = cc >>> CC_MPS_SHIFT & CC_MPS_MASK,
                ams = cc >>> CC_AMS_SHIFT & CC_AMS_MASK;
        int sqEntries = (aqa & AQA_SIZE_MASK) + 1, cqEntries = (aqa >>> AQA_ACQS_SHIFT & AQA_SIZE_MASK) + 1;
        String refused = css != CC_CSS_NVM ? "CC.CSS " + css + " is not the NVM command set"
                : mps != 0 ? "CC.MPS " + mps + " is not the 4 KiB page"
                : ams != 0 ? "CC.AMS " + ams + " is not round robin"
                : sqEntries < 2 || cqEntries < 2 ? "AQA 0x%x asks for a one-entry admin queue".formatted(aqa)
                : (asq & (PAGE_SIZE - 1)) != 0 || (acq & (PAGE_SIZE - 1)) != 0
                        ? "ASQ 0x%x / ACQ 0x%x are not page-aligned".formatted(asq, acq)
                : null;
        generation++;
        if (refused != null) {
            LOG.log(System.Logger.Level.WARNING, "{0}: enable refused: {1}", name(), refused);
            csts |= CSTS_CFS;
            return;
        }
        CompletionQueue adminCq = new CompletionQueue(0, acq, cqEntries, true, 0);
        cqs.set(0, adminCq);
        sqs.set(0, new SubmissionQueue(0, asq, sqEntries, adminCq, new AdminCommands(this), host, name() + "-admin"));
        ready = true;
        csts = CSTS_RDY;
    }

    /**
     * EN 1→0: every queue goes, outstanding work is dropped, features return to their defaults;
     * CSTS clears (RDY 0) once the workers have finished the commands they hold. Under the lock.
     */
    private void disable() {
        List<SubmissionQueue> stopped = tearDownQueues();
        intms = 0;
        int gen = generation;
        Thread.ofPlatform().daemon().name(name() + "-reset").start(() -> {
            for (SubmissionQueue sq : stopped) {
                sq.awaitStopped();
            }
            synchronized (this) {
                if (generation == gen) {
                    csts = 0;
                }
            }
        });
    }

    /** Kills every queue (workers stop taking commands, nothing more is posted). Under the lock. */
    private List<SubmissionQueue> tearDownQueues() {
        ready = false;
        List<SubmissionQueue> stopped = new ArrayList<>();
        for (int i = 0; i < VECTORS; i++) {
            SubmissionQueue sq = sqs.getAndSet(i, null);
            if (sq != null) {
                sq.kill();
                stopped.add(sq);
            }
        }
        for (int i = 0; i < VECTORS; i++) {
            CompletionQueue cq = cqs.getAndSet(i, null);
            if (cq != null) {
                cq.kill();
            }
        }
        features.reset();
        shadowBuffers = null;
        synchronized (intxLock) {
            setIntx(false);
        }
        return stopped;
    }

    /** CC.SHN (§7.6.2): every namespace flushed, then SHST complete. Under the lock. */
    private void shutdownNotification() {
        csts = csts & ~CSTS_SHST_MASK | SHST_IN_PROGRESS << CSTS_SHST_SHIFT;
        int gen = generation;
        Thread.ofPlatform().daemon().name(name() + "-shutdown").start(() -> {
            flushAll();
            synchronized (this) {
                if (generation == gen && (cc >>> CC_SHN_SHIFT & CC_SHN_MASK) != 0) {
                    csts = csts & ~CSTS_SHST_MASK | SHST_COMPLETE << CSTS_SHST_SHIFT;
                }
            }
        });
    }

    private void flushAll() {
        for (Namespace ns : namespaces) {
            try {
                ns.store().flush();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "{0}: flushing namespace {1} at shutdown: {2}", name(), ns.nsid(),
                        e.getMessage());
            }
        }
    }

    /** Controller fatal status: the host notices CSTS.CFS at its next timeout and resets the controller. */
    void fatal(String why, Throwable cause) {
        LOG.log(System.Logger.Level.WARNING, name() + ": controller fatal status: " + why, cause);
        synchronized (this) {
            csts |= CSTS_CFS;
        }
    }

    /** DEVICE_RESET and client disconnect: everything back to power-on state at once. */
    private synchronized void resetController() {
        tearDownQueues();
        generation++;
        cc = intms = aqa = 0;
        asq = acq = 0;
        csts = 0;
    }

    @Override
    protected void resetDevice() {
        resetController();
    }

    /** The client went away: its queues went with its memory. */
    @Override
    public void close() {
        resetController();
        super.close();
    }

    /** Stops every worker and closes the namespaces' stores; the controller serves no more clients. */
    public void shutdown() {
        List<SubmissionQueue> stopped;
        synchronized (this) {
            stopped = tearDownQueues();
            generation++;
        }
        for (SubmissionQueue sq : stopped) {
            sq.awaitStopped();
        }
        for (Namespace ns : namespaces) {
            try {
                ns.store().close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "{0}: closing namespace {1}: {2}", name(), ns.nsid(), e.getMessage());
            }
        }
    }

    // ------------------------------------------------------------------ queues, for the admin command set

    SubmissionQueue submissionQueue(int qid) {
        return qid < VECTORS ? sqs.get(qid) : null;
    }

    CompletionQueue completionQueue(int qid) {
        return qid < VECTORS ? cqs.get(qid) : null;
    }

    boolean hasIoQueues() {
        for (int i = 1; i < VECTORS; i++) {
            if (sqs.get(i) != null || cqs.get(i) != null) {
                return true;
            }
        }
        return false;
    }

    void addCompletionQueue(CompletionQueue cq) {
        attachShadow(null, cq);
        cqs.set(cq.id, cq);
    }

    void addSubmissionQueue(int qid, long base, int entries, CompletionQueue cq) {
        IoCommands io = new IoCommands(identify, features, logs, controllerIdentity.maxTransferBytes());
        SubmissionQueue sq = new SubmissionQueue(qid, base, entries, cq, io, host, name() + "-sq" + qid);
        attachShadow(sq, null);
        sqs.set(qid, sq);
    }

    /** A queue created after Doorbell Buffer Config uses the shadow buffers too. */
    private void attachShadow(SubmissionQueue sq, CompletionQueue cq) {
        ShadowBuffers buffers = shadowBuffers;
        DmaView dma = host.dmaOrNull();
        if (buffers == null || dma == null) {
            return;
        }
        try {
            if (sq != null) {
                buffers.attach(sq, dma);
            } else {
                buffers.attach(cq, dma, !msixEnabled());
            }
        } catch (VfioException e) {
            fatal("shadow doorbell buffer unreachable: " + e.getMessage(), e);
        }
    }

    /**
     * Doorbell Buffer Config (admin worker; the addresses are checked): every I/O queue, and those
     * created later, also takes its tail or head from the shadow buffer from now on — unless a
     * reset came meanwhile (the DMA is done outside the lock, which the session thread needs).
     */
    void configureShadowDoorbells(SubmissionQueue adminQueue, long doorbells, long eventIdx, DmaView dma)
            throws VfioException {
        ShadowBuffers buffers = new ShadowBuffers(doorbells, eventIdx);
        for (int qid = 1; qid < VECTORS; qid++) {
            CompletionQueue cq = cqs.get(qid);
            if (cq != null) {
                buffers.attach(cq, dma, !msixEnabled());
            }
            SubmissionQueue sq = sqs.get(qid);
            if (sq != null) {
                buffers.attach(sq, dma);
            }
        }
        synchronized (this) {
            if (sqs.get(0) == adminQueue) {
                shadowBuffers = buffers;
                doorbellStatistics.shadowConfigured();
            }
        }
    }

    /** Delete I/O Submission Queue: the worker finishes its command (its completion dropped), then the queue goes. */
    void removeSubmissionQueue(SubmissionQueue sq) {
        sqs.compareAndSet(sq.id, sq, null);
        sq.kill();
        sq.awaitStopped();
    }

    void removeCompletionQueue(CompletionQueue cq) {
        cqs.compareAndSet(cq.id, cq, null);
        cq.kill();
        updateIntx();
    }

    int maxQueueEntries() {
        return MAX_QUEUE_ENTRIES;
    }

    synchronized int submissionEntryShift() {
        return cc >>> CC_IOSQES_SHIFT & CC_ES_MASK;
    }

    synchronized int completionEntryShift() {
        return cc >>> CC_IOCQES_SHIFT & CC_ES_MASK;
    }

    // ------------------------------------------------------------------ interrupts

    boolean msixEnabled() {
        return (config().read(msixFlagsOffset, 2) & 0x8000) != 0;
    }

    /** The INTx level: some completion queue that interrupts, with unconsumed entries and its vector unmasked. */
    private void updateIntx() {
        if (msixEnabled()) {
            return;
        }
        synchronized (intxLock) {
            boolean level = false;
            int masks = intms;
            for (int i = 0; i < VECTORS && !level; i++) {
                CompletionQueue cq = cqs.get(i);
                level = cq != null && cq.interruptsEnabled && cq.hasPending() && (masks & 1 << (cq.vector & 31)) == 0;
            }
            setIntx(level);
        }
    }

    private final class QueueHost implements SubmissionQueue.Host {
        @Override
        public DmaView dmaOrNull() {
            try {
                return dma();
            } catch (VfioException e) {
                return null;
            }
        }

        @Override
        public void interrupt(CompletionQueue cq) {
            if (!cq.interruptsEnabled) {
                return;
            }
            if (msixEnabled()) {
                raise(cq.vector);
            } else {
                updateIntx();
            }
        }

        @Override
        public void fatal(String why, Throwable cause) {
            NvmeController.this.fatal(why, cause);
        }

        @Override
        public void fetched(SubmissionQueue queue) {
            if (queue.id != 0) {
                doorbellStatistics.ioCommand();
            }
        }
    }

    /** How to build a controller: namespaces in order (nsid 1, 2, ...), identity strings, LBA size. */
    public static final class Builder {
        private final List<BlockStore> stores = new ArrayList<>();
        private String serial, model = "jvfio NVMe controller", firmware = "0.1";
        private int lbaShift = 9;
        private int mdts = DEFAULT_MDTS;

        private Builder() {}

        /** Adds a namespace backed by {@code store} (the controller closes it at {@link #shutdown()}). */
        public Builder namespace(BlockStore store) {
            stores.add(store);
            return this;
        }

        public Builder serial(String serial) {
            this.serial = serial;
            return this;
        }

        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder firmware(String firmware) {
            this.firmware = firmware;
            return this;
        }

        /** The logical block size of every namespace: 512 (default) or 4096 bytes. */
        public Builder blockSize(int bytes) {
            if (bytes != 512 && bytes != 4096) {
                throw new IllegalArgumentException("the block size must be 512 or 4096, not " + bytes);
            }
            this.lbaShift = Integer.numberOfTrailingZeros(bytes);
            return this;
        }

        /** MDTS: the largest transfer is 4 KiB << mdts (1-8; default 7, 512 KiB). */
        public Builder mdts(int mdts) {
            if (mdts < 1 || mdts > 8) {
                throw new IllegalArgumentException("MDTS must be 1-8, not " + mdts);
            }
            this.mdts = mdts;
            return this;
        }

        public NvmeController build() {
            if (stores.isEmpty()) {
                throw new IllegalArgumentException("an NVMe controller needs at least one namespace");
            }
            for (BlockStore s : stores) {
                if (s.size() >>> lbaShift == 0) {
                    throw new IllegalArgumentException("a namespace of %d bytes holds no %d-byte block".formatted(s.size(), 1 << lbaShift));
                }
            }
            String id = serial != null ? serial : "JV%08X".formatted(stores.stream().mapToLong(BlockStore::size).sum() * 31
                    + System.identityHashCode(stores.get(0)));
            return new NvmeController(new ControllerIdentity(VENDOR_ID, id, model, firmware, mdts), stores, lbaShift);
        }
    }
}
