package io.jvfio.nvme;

import static io.jvfio.nvme.DriverPages.*;
import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.client.DeviceHandle;
import io.jvfio.client.Interrupts;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A userspace NVMe driver over any {@link DeviceHandle} (a vfio-user server's device, later a kernel
 * VFIO one), following the NVM Express Base Specification: {@link #open} disables the controller,
 * puts the admin queues in DMA memory, enables it, identifies it and its active namespaces and asks
 * for I/O queues; {@link #ioQueue()} gives each thread its own queue pair; {@link #close()} deletes
 * the I/O queues and shuts the controller down normally (CC.SHN) before releasing the memory.
 *
 * <p>Admin commands are serialized on the admin queue; I/O goes through {@link IoQueue}s, one per
 * thread. A command outstanding past its timeout gets an Abort, then a controller {@link #reset}
 * ({@link QueueRecovery}); an admin command past the admin timeout resets the controller at once.
 * Asynchronous events are kept requested and handed over by {@link #pollEvents} and
 * {@link #awaitEvents} ({@link AsyncEventService}): the driver starts no thread of its own, so the
 * admin completion queue is serviced by every admin command and by those two calls, as in SPDK.
 * The I/O queues' doorbells go through shadow doorbells when the controller offers Doorbell Buffer
 * Config; data is described with PRPs, or SGLs when asked for and supported.
 *
 * <p>Over 600 lines: bring-up, Identify, the admin lock and the public API share the controller's
 * state; the admin queue, resets, per-queue timeouts and events live in {@link AdminQueue},
 * {@link ControllerReset}, {@link QueueRecovery} and {@link AsyncEventService}.
 */
public final class NvmeDriver implements AutoCloseable {
    private static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;
    private static final int PCI_COMMAND = 0x04, PCI_COMMAND_MEMORY = 1 << 1, PCI_COMMAND_MASTER = 1 << 2,
            PCI_CAPABILITIES = 0x34, PCI_CAP_MSIX = 0x11, MSIX_ENABLE = 1 << 15;
    /** The most one PRP list page describes after PRP1's page: the driver's own limit on a transfer. */
    private static final long PRP_LIST_LIMIT_BYTES = (long) PRP_ENTRIES_PER_PAGE * PAGE_SIZE;
    private static final Duration REGISTER_POLL = Duration.ofMillis(1);

    /**
     * How the driver runs a controller.
     *
     * @param interrupts        completions by MSI-X (a vector per completion queue) rather than polled
     * @param sharedMemory      DMA memory the device maps ({@link DeviceHandle#allocateDma}) rather than
     *                          memory it reaches only through the handle ({@link DeviceHandle#registerMemory})
     * @param mappedDoorbells   ring doorbells by stores into the mapped BAR when the handle maps them
     * @param shadowDoorbells   shadow doorbells (Doorbell Buffer Config) for the I/O queues when the controller offers
     *                          them and the doorbells are trapped (a mapped doorbell is a plain store already)
     * @param sgls              describe I/O data with SGLs when the controller takes them for NVM commands (else PRPs)
     * @param adminQueueEntries entries of the admin queues (2-4096)
     * @param ioQueueEntries    entries of each I/O queue (at least 2; at most what CAP.MQES allows)
     * @param maxIoQueues       the I/O queue pairs to ask for (Set Features Number of Queues)
     * @param iovaBase          where the driver's DMA memory starts in the device's address space
     * @param ioTimeout         how long an I/O command may be outstanding before it is aborted, and
     *                          after the Abort before the controller is reset (Linux's io_timeout)
     * @param adminTimeout      how long an admin command may take before the controller is reset
     * @param shutdownTimeout   how long {@link #close()} waits for the shutdown to complete
     */
    public record Options(boolean interrupts, boolean sharedMemory, boolean mappedDoorbells, boolean shadowDoorbells,
            boolean sgls, int adminQueueEntries, int ioQueueEntries, int maxIoQueues, long iovaBase, Duration ioTimeout,
            Duration adminTimeout,
            Duration shutdownTimeout) {

        public Options {
            if (adminQueueEntries < 2 || adminQueueEntries > 4096 || ioQueueEntries < 2 || ioQueueEntries > 65536
                    || maxIoQueues < 1 || maxIoQueues > 65535) {
                throw new IllegalArgumentException("queue sizes or count out of range: %d admin entries, %d I/O queues of %d entries"
                        .formatted(adminQueueEntries, maxIoQueues, ioQueueEntries));
            }
            if (!ioTimeout.isPositive() || !adminTimeout.isPositive() || shutdownTimeout.isNegative()) {
                throw new IllegalArgumentException("timeouts: I/O %s, admin %s, shutdown %s".formatted(ioTimeout, adminTimeout,
                        shutdownTimeout));
            }
        }

        /**
         * Polled, shared memory, mapped doorbells and shadow doorbells when offered, PRPs, 32 admin
         * entries, up to 8 I/O queues of 256; Linux's timeouts: 30 s for I/O, 60 s for admin commands.
         */
        public static Options defaults() {
            return new Options(false, true, true, true, false, 32, 256, 8, 0x10_0000, Duration.ofSeconds(30),
                    Duration.ofSeconds(60), Duration.ofSeconds(10));
        }

        public Options withTimeouts(Duration io, Duration admin) {
            return new Options(interrupts, sharedMemory, mappedDoorbells, shadowDoorbells, sgls, adminQueueEntries,
                    ioQueueEntries, maxIoQueues, iovaBase, io, admin, shutdownTimeout);
        }

        public Options withInterrupts(boolean on) {
            return new Options(on, sharedMemory, mappedDoorbells, shadowDoorbells, sgls, adminQueueEntries, ioQueueEntries,
                    maxIoQueues, iovaBase, ioTimeout, adminTimeout, shutdownTimeout);
        }

        public Options withSharedMemory(boolean on) {
            return new Options(interrupts, on, mappedDoorbells, shadowDoorbells, sgls, adminQueueEntries, ioQueueEntries,
                    maxIoQueues, iovaBase, ioTimeout, adminTimeout, shutdownTimeout);
        }

        public Options withMappedDoorbells(boolean on) {
            return new Options(interrupts, sharedMemory, on, shadowDoorbells, sgls, adminQueueEntries, ioQueueEntries,
                    maxIoQueues, iovaBase, ioTimeout, adminTimeout, shutdownTimeout);
        }

        /** Shadow doorbells when the controller offers Doorbell Buffer Config (on by default). */
        public Options withShadowDoorbells(boolean on) {
            return new Options(interrupts, sharedMemory, mappedDoorbells, on, sgls, adminQueueEntries, ioQueueEntries,
                    maxIoQueues, iovaBase, ioTimeout, adminTimeout, shutdownTimeout);
        }

        /** SGLs rather than PRPs for I/O data when the controller supports them for NVM commands (off by default). */
        public Options withSgls(boolean on) {
            return new Options(interrupts, sharedMemory, mappedDoorbells, shadowDoorbells, on, adminQueueEntries,
                    ioQueueEntries, maxIoQueues, iovaBase, ioTimeout, adminTimeout, shutdownTimeout);
        }

        public Options withIoQueues(int count, int entries) {
            return new Options(interrupts, sharedMemory, mappedDoorbells, shadowDoorbells, sgls, adminQueueEntries, entries,
                    count, iovaBase, ioTimeout, adminTimeout, shutdownTimeout);
        }
    }

    private final DeviceHandle device;
    private final Options options;
    private final DriverMemory memory;
    private final ThreadLocal<IoQueue> threadQueues = new ThreadLocal<>();
    /** The I/O queues created, in order; guarded by {@link #adminLock}. */
    private final List<IoQueue> ioQueues = new ArrayList<>();
    private final Object adminLock = new Object();
    private final ControllerReset resets = new ControllerReset(this, adminLock);
    private long cap;
    private long readyTimeoutNanos;
    private Interrupts interrupts;
    private Doorbells doorbells;
    /** The admin queue and the event service; used under {@link #adminLock}. */
    private AdminQueue admin;
    private AsyncEventService events;
    private DmaRegion identifyPage;
    /** The shadow doorbell and EventIdx buffers once Doorbell Buffer Config was sent; null before or without. */
    private DmaRegion shadowBuffer, eventIdxBuffer;
    private ControllerIdentity identity;
    /** OAES of Identify Controller: the notices the controller can report. */
    private int optionalEvents;
    /** The namespaces, replaced whole by a rescan. */
    private volatile List<Namespace> namespaces;
    /** The same, for a lookup on the I/O path that allocates no iterator. */
    private volatile Namespace[] namespaceArray;
    private int grantedIoQueues;
    private int ioQueueEntries;
    private long maxTransferBytes;
    private volatile boolean closed;

    private NvmeDriver(DeviceHandle device, Options options) {
        this.device = device;
        this.options = options;
        this.memory = new DriverMemory(device, options.sharedMemory(), options.iovaBase());
    }

    /** Brings the controller of {@code device} up (see the class comment); the handle stays the caller's. */
    public static NvmeDriver open(DeviceHandle device, Options options) throws IOException {
        NvmeDriver driver = new NvmeDriver(device, options);
        try {
            driver.bringUp();
            return driver;
        } catch (IOException | RuntimeException e) {
            driver.abandon(e);
            throw e;
        }
    }

    /**
     * After a failed bring-up: the controller disabled (so it no longer reaches the queues), then the
     * memory released; what fails here is added to {@code failure}.
     */
    private void abandon(Exception failure) {
        try {
            if (device.isConnected() && readyTimeoutNanos > 0) {
                disable();
            }
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
        try {
            release();
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private void bringUp() throws IOException {
        cap = device.read64(BAR, REG_CAP);
        readyTimeoutNanos = Math.max(1, cap >>> CAP_TO_SHIFT & 0xff) * CAP_TO_UNIT_MILLIS * 1_000_000;
        if ((cap >>> CAP_CSS_SHIFT & CAP_CSS_NVM) == 0) {
            throw new IOException("the controller does not support the NVM command set (CAP 0x%x)".formatted(cap));
        }
        if ((cap >>> CAP_MPSMIN_SHIFT & 0xf) != 0) {
            throw new IOException("the controller's smallest memory page is above 4 KiB (CAP.MPSMIN %d)"
                    .formatted(cap >>> CAP_MPSMIN_SHIFT & 0xf));
        }
        int maxEntries = (int) (cap & CAP_MQES_MASK) + 1;
        ioQueueEntries = Math.min(options.ioQueueEntries(), maxEntries);
        int adminEntries = Math.min(options.adminQueueEntries(), maxEntries);

        enableBusMaster();
        disable();
        doorbells = Doorbells.open(device, (int) (cap >>> CAP_DSTRD_SHIFT & 0xf), options.maxIoQueues() + 1,
                options.mappedDoorbells());
        if (options.interrupts()) {
            interrupts = wireMsix(options.maxIoQueues() + 1);
        }
        admin = new AdminQueue(new QueuePair(0, adminEntries, memory.allocate((long) adminEntries * SQE_SIZE),
                memory.allocate((long) adminEntries * CQE_SIZE), null, doorbells, interrupts, 0),
                options.adminTimeout().toNanos());
        enable();

        identifyPage = memory.allocate(PAGE_SIZE);
        identity = identifyController();
        long mdtsBytes = identity.maxTransferBytes();
        maxTransferBytes = mdtsBytes == 0 ? PRP_LIST_LIMIT_BYTES : Math.min(mdtsBytes, PRP_LIST_LIMIT_BYTES);
        rescanNamespaces();
        grantedIoQueues = askForIoQueues();
        configureShadowDoorbells();
        events = new AsyncEventService(this, admin, memory.allocate(PAGE_SIZE));
        events.start(optionalEvents);
        synchronized (adminLock) {
            resets.arm();
        }
    }

    /** The admin queues in AQA/ASQ/ACQ, CC with the driver's settings, then EN=1 and RDY=1 within CAP.TO. */
    private void enable() throws IOException {
        QueuePair queue = admin.pair();
        device.write32(BAR, REG_AQA, (queue.entries - 1) << 16 | (queue.entries - 1));
        device.write64(BAR, REG_ASQ, queue.submissions.iova());
        device.write64(BAR, REG_ACQ, queue.completions.iova());
        int cc = CC_CSS_NVM << CC_CSS_SHIFT | MPS << CC_MPS_SHIFT | SQES << CC_IOSQES_SHIFT | CQES << CC_IOCQES_SHIFT;
        device.write32(BAR, REG_CC, cc);
        device.write32(BAR, REG_CC, cc | CC_EN);
        awaitReady(true);
    }

    /** Set Features Number of Queues; returns the I/O queue pairs granted, at most the options' count. */
    private int askForIoQueues() throws IOException {
        int wanted = options.maxIoQueues() - 1;
        int granted = adminCommand("Set Features (Number of Queues)", ADMIN_SET_FEATURES, 0, 0,
                FEATURE_NUMBER_OF_QUEUES, wanted << 16 | wanted);
        return Math.min(options.maxIoQueues(), Math.min((granted & 0xffff) + 1, (granted >>> 16) + 1));
    }

    /**
     * Doorbell Buffer Config (§5.8) with zeroed shadow and EventIdx buffers (allocated at the first
     * call), when offered, wanted and the doorbells are trapped; at bring-up and after each reset, before any I/O queue. A
     * controller that refuses it leaves the driver on plain doorbells, as Linux does.
     */
    private void configureShadowDoorbells() throws IOException {
        if (!options.shadowDoorbells() || !identity.supportsShadowDoorbells() || doorbells.isMapped()) {
            return;   // mapped doorbells are plain stores already: shadows would only add the controller's EventIdx delay
        }
        if (shadowBuffer == null) {
            long bytes = Doorbells.shadowBytes((int) (cap >>> CAP_DSTRD_SHIFT & 0xf), options.maxIoQueues() + 1);
            shadowBuffer = memory.allocate(bytes);
            eventIdxBuffer = memory.allocate(bytes);
        }
        doorbells.useShadow(null, null);   // until the controller has taken the new buffers
        shadowBuffer.segment().fill((byte) 0);
        eventIdxBuffer.segment().fill((byte) 0);
        try {
            adminCommand("Doorbell Buffer Config", ADMIN_DOORBELL_BUFFER_CONFIG, 0, shadowBuffer.iova(), eventIdxBuffer.iova(),
                    0, 0);
            doorbells.useShadow(shadowBuffer.segment(), eventIdxBuffer.segment());
        } catch (NvmeException refused) {
            doorbells.useShadow(null, null);
        }
    }

    /** Memory space and bus mastering on in the command register, as a kernel driver's pci_enable_device and set_master. */
    private void enableBusMaster() throws IOException {
        int command = device.read16(CONFIG, PCI_COMMAND);
        device.write16(CONFIG, PCI_COMMAND, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }

    /** Enables MSI-X in its capability and wires eventfds to up to {@code wanted} vectors. */
    private Interrupts wireMsix(int wanted) throws IOException {
        int vectors = Math.min(wanted, device.irqInfo(Vfio.PCI_MSIX_IRQ_INDEX).count());
        int msix = 0;
        for (int at = device.read8(CONFIG, PCI_CAPABILITIES) & ~3, hops = 0; at != 0 && hops < 48; hops++) {
            if (device.read8(CONFIG, at) == PCI_CAP_MSIX) {
                msix = at;
                break;
            }
            at = device.read8(CONFIG, at + 1) & ~3;
        }
        if (vectors == 0 || msix == 0) {
            throw new IOException("interrupts were asked for, but the device has no MSI-X");
        }
        device.write16(CONFIG, msix + 2, device.read16(CONFIG, msix + 2) | MSIX_ENABLE);
        return device.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, vectors);
    }

    /** CC.EN=0 and CSTS.RDY=0 within CAP.TO (§3.5.2), when the controller is enabled or still ready. */
    private void disable() throws IOException {
        int cc = device.read32(BAR, REG_CC);
        if ((cc & CC_EN) == 0 && (device.read32(BAR, REG_CSTS) & CSTS_RDY) == 0) {
            return;
        }
        device.write32(BAR, REG_CC, cc & ~CC_EN);
        awaitReady(false);
    }

    private void awaitReady(boolean ready) throws IOException {
        long deadline = System.nanoTime() + readyTimeoutNanos;
        while (true) {
            int csts = device.read32(BAR, REG_CSTS);
            if (ready && (csts & CSTS_CFS) != 0) {
                throw new IOException("the controller reports a fatal status while enabling (CSTS 0x%x)".formatted(csts));
            }
            if (((csts & CSTS_RDY) != 0) == ready) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("CSTS.RDY did not become %d within CAP.TO (%d ms; CSTS 0x%x)"
                        .formatted(ready ? 1 : 0, readyTimeoutNanos / 1_000_000, csts));
            }
            sleep(REGISTER_POLL);
        }
    }

    private static void sleep(Duration time) throws IOException {
        try {
            Thread.sleep(time);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the controller", e);
        }
    }

    private ControllerIdentity identifyController() throws IOException {
        MemorySegment id = identify(CNS_CONTROLLER, 0);
        int mdts = Byte.toUnsignedInt(id.get(ValueLayout.JAVA_BYTE, ID_CTRL_MDTS));
        optionalEvents = id.get(ValueLayout.JAVA_INT_UNALIGNED, ID_CTRL_OAES);
        long minPage = 1L << (MPS_BASE_SHIFT + (cap >>> CAP_MPSMIN_SHIFT & CAP_MPS_MASK));
        return new ControllerIdentity(u16(id, ID_CTRL_VID), u16(id, ID_CTRL_SSVID), ascii(id, ID_CTRL_SN, SN_BYTES),
                ascii(id, ID_CTRL_MN, MN_BYTES), ascii(id, ID_CTRL_FR, FR_BYTES), u16(id, ID_CTRL_CNTLID),
                id.get(ValueLayout.JAVA_INT, ID_CTRL_VER), mdts, mdts == 0 ? 0 : minPage << mdts, u16(id, ID_CTRL_OACS),
                u16(id, ID_CTRL_ONCS), id.get(ValueLayout.JAVA_INT, ID_CTRL_NN),
                (id.get(ValueLayout.JAVA_BYTE, ID_CTRL_VWC) & 1) != 0, id.get(ValueLayout.JAVA_INT, ID_CTRL_SGLS),
                ascii(id, ID_CTRL_SUBNQN, SUBNQN_BYTES));
    }

    /** The active namespaces: the active list (CNS 02h) from NVMe 1.1 on, else 1..NN; then Identify Namespace each. */
    private List<Namespace> identifyNamespaces() throws IOException {
        List<Integer> nsids = new ArrayList<>();
        if (Integer.compareUnsigned(identity.version(), VERSION_1_1) >= 0) {
            MemorySegment list = identify(CNS_ACTIVE_NAMESPACES, 0);
            for (int i = 0; i < ACTIVE_NAMESPACE_LIST_ENTRIES; i++) {
                int nsid = list.get(ValueLayout.JAVA_INT, 4L * i);
                if (nsid == 0) {
                    break;
                }
                nsids.add(nsid);
            }
        } else {
            for (int nsid = 1; nsid > 0 && nsid <= identity.namespaceCount(); nsid++) {
                nsids.add(nsid);
            }
        }
        List<Namespace> found = new ArrayList<>();
        for (int nsid : nsids) {
            MemorySegment ns = identify(CNS_NAMESPACE, nsid);
            long size = ns.get(ValueLayout.JAVA_LONG, ID_NS_NSZE);
            if (size == 0) {
                continue;   // an inactive namespace identifies as zeroes
            }
            int flbas = Byte.toUnsignedInt(ns.get(ValueLayout.JAVA_BYTE, ID_NS_FLBAS));
            int nlbaf = Byte.toUnsignedInt(ns.get(ValueLayout.JAVA_BYTE, ID_NS_NLBAF));
            int format = nlbaf >= 16 ? (flbas & 0xf) | (flbas >>> 5 & 3) << 4 : flbas & 0xf;
            int lbaf = ns.get(ValueLayout.JAVA_INT, ID_NS_LBAF0 + 4L * format);
            int lbads = lbaf >>> 16 & 0xff;
            if (lbads < 9 || lbads > 30) {
                throw new IOException("namespace %d: LBA format %d has a block of 2^%d bytes".formatted(nsid, format, lbads));
            }
            found.add(new Namespace(nsid, size, ns.get(ValueLayout.JAVA_LONG, ID_NS_NCAP),
                    ns.get(ValueLayout.JAVA_LONG, ID_NS_NUSE), 1 << lbads, lbaf & 0xffff, format));
        }
        return List.copyOf(found);
    }

    /** Identify with {@code cns} into the driver's identify page; returns the page. */
    private MemorySegment identify(int cns, int nsid) throws IOException {
        identifyPage.segment().fill((byte) 0);
        adminCommand("Identify (CNS %02xh)".formatted(cns), ADMIN_IDENTIFY, nsid, identifyPage.iova(), cns, 0);
        return identifyPage.segment();
    }

    private static int u16(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset));
    }

    private static String ascii(MemorySegment s, long offset, int length) {
        byte[] bytes = s.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII).strip();
    }

    /**
     * Runs one admin command to its completion; returns its Dword 0, or throws {@link NvmeException}
     * on an error status and IOException when it does not complete within the admin timeout — once
     * the driver is up, after resetting the controller (as Linux does for an admin command).
     */
    int adminCommand(String name, int opcode, int nsid, long prp1, int cdw10, int cdw11) throws IOException {
        return adminCommand(name, opcode, nsid, prp1, 0, cdw10, cdw11);
    }

    int adminCommand(String name, int opcode, int nsid, long prp1, long prp2, int cdw10, int cdw11) throws IOException {
        synchronized (adminLock) {
            checkOpen();
            try {
                return admin.run(name, opcode, nsid, prp1, prp2, cdw10, cdw11);
            } catch (AdminQueue.CommandTimeout e) {
                resets.afterAdminTimeout(e);
                throw e;
            }
        }
    }

    // ---------------------------------------------------------------- timeouts and resets

    ControllerReset resets() {
        return resets;
    }

    /** Whether CSTS shows a controller fatal status (or reads as all ones: the device is gone). */
    boolean controllerFatal() throws IOException {
        int csts = device.read32(BAR, REG_CSTS);
        return csts == -1 || (csts & CSTS_CFS) != 0;
    }

    /**
     * Resets the controller (CC.EN=0, CSTS.RDY=0, admin queues anew, enabled, Number of Queues and
     * asynchronous events as before) — what a command timeout does, for a caller that wants it.
     * Commands outstanding are completed with {@link NvmeStatus#HOST_ABORTED} ({@link NvmeException}
     * from a blocking call); each thread's {@link IoQueue} stays valid and is created at the
     * controller again at its next submission. When the reset fails the driver is unusable (an
     * IllegalStateException from then on) and only {@link #close} remains.
     */
    public void reset() throws IOException {
        synchronized (adminLock) {
            checkOpen();
            resets.run();
        }
    }

    /** For {@link ControllerReset}: CC.EN=0, CSTS.RDY=0. */
    void disableController() throws IOException {
        disable();
    }

    /** For {@link ControllerReset}, the controller disabled: the admin queues anew, enabled, I/O queues granted, events asked for. */
    void reinitialize() throws IOException {
        admin.restart();
        enable();
        int granted = askForIoQueues();
        if (granted < ioQueues.size()) {
            throw new IOException("after the reset the controller grants %d I/O queues, %d are in use".formatted(granted,
                    ioQueues.size()));
        }
        configureShadowDoorbells();
        events.start(optionalEvents);
    }

    /**
     * Creates I/O queue {@code pair} at the controller again after a reset; false (nothing done)
     * when the controller was reset again since {@code seenGeneration} (the queue restarts first).
     */
    boolean recreate(QueuePair pair, int seenGeneration) throws IOException {
        synchronized (adminLock) {
            checkOpen();
            if (seenGeneration != resets.generation()) {
                return false;
            }
            createAtController(pair);
            return true;
        }
    }

    // ---------------------------------------------------------------- asynchronous events

    /**
     * Services the admin completion queue now and returns the asynchronous events reported since
     * the last call (their log pages read, the namespaces rescanned after a namespace change);
     * never waits for an event. The driver has no thread of its own: events reach the caller
     * through this, {@link #awaitEvents} and any admin command.
     */
    public List<AsyncEvent> pollEvents() throws IOException {
        synchronized (adminLock) {
            checkOpen();
            return events.poll();
        }
    }

    /** {@link #pollEvents} until there is an event or {@code timeout} passes; the events, or an empty list. */
    public List<AsyncEvent> awaitEvents(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<AsyncEvent> found = pollEvents();
            if (!found.isEmpty() || System.nanoTime() - deadline > 0) {
                return found;
            }
            sleep(REGISTER_POLL);   // the admin lock is free meanwhile
        }
    }

    /** Identifies the active namespaces again (at bring-up and after a Namespace Attribute Notice). */
    void rescanNamespaces() throws IOException {
        List<Namespace> found = identifyNamespaces();
        namespaceArray = found.toArray(Namespace[]::new);
        namespaces = found;
    }

    // ---------------------------------------------------------------- what callers use

    /** The controller's identity from Identify Controller. */
    public ControllerIdentity controller() {
        return identity;
    }

    /** The active namespaces, by namespace identifier (as of the last scan: see {@link #pollEvents}). */
    public List<Namespace> namespaces() {
        return namespaces;
    }

    /** The active namespace {@code nsid}. */
    public Namespace namespace(int nsid) {
        for (Namespace ns : namespaceArray) {
            if (ns.nsid() == nsid) {
                return ns;
            }
        }
        throw new IllegalArgumentException("namespace %d is not active on this controller".formatted(nsid));
    }

    /** The largest transfer of one command: MDTS, and at most what one PRP list page describes. */
    public long maxTransferBytes() {
        return maxTransferBytes;
    }

    /** How many I/O queue pairs the controller granted (Set Features Number of Queues), at most the options' count. */
    public int ioQueueLimit() {
        return grantedIoQueues;
    }

    /** Whether completions fire MSI-X vectors (the options asked for interrupts), rather than being polled. */
    public boolean interruptsEnabled() {
        return interrupts != null;
    }

    /** Whether doorbells are rung by stores into the mapped BAR (rather than register writes through the handle). */
    public boolean doorbellsMapped() {
        return doorbells.isMapped();
    }

    /** Whether the I/O queues' doorbells go through shadow doorbells (Doorbell Buffer Config accepted). */
    public boolean shadowDoorbells() {
        return doorbells.shadowed();
    }

    /** Whether I/O data is described with SGLs: asked for in the options and supported by the controller. */
    public boolean usesSgls() {
        return options.sgls() && identity.supportsSgls();
    }

    /** The SMART / Health Information log page (Get Log Page 02h, controller-wide). */
    public SmartLog smartLog() throws IOException {
        synchronized (adminLock) {
            checkOpen();
            MemorySegment page = identifyPage.segment();
            page.fill((byte) 0);
            int dwords = SMART_LOG_SIZE / Integer.BYTES;
            adminCommand("Get Log Page (SMART / Health Information)", ADMIN_GET_LOG_PAGE, BROADCAST_NSID, identifyPage.iova(),
                    LOG_SMART | (dwords - 1) << 16, 0);
            return SmartLog.decode(page);
        }
    }

    /**
     * The calling thread's I/O queue, created at its first call (Create I/O CQ, then SQ). Throws
     * IllegalStateException once every granted queue is taken by another thread.
     */
    public IoQueue ioQueue() throws IOException {
        checkOpen();
        IoQueue queue = threadQueues.get();
        if (queue == null) {
            queue = createIoQueue();
            threadQueues.set(queue);
        }
        return queue;
    }

    private IoQueue createIoQueue() throws IOException {
        synchronized (adminLock) {
            checkOpen();
            int qid = ioQueues.size() + 1;
            if (qid > grantedIoQueues) {
                throw new IllegalStateException("all %d I/O queues are taken by other threads".formatted(grantedIoQueues));
            }
            int entries = ioQueueEntries;
            int vector = interrupts == null ? 0 : qid % interrupts.count();
            QueuePair pair = new QueuePair(qid, entries, memory.allocate((long) entries * SQE_SIZE),
                    memory.allocate((long) entries * CQE_SIZE), memory.allocate((long) (entries - 1) * PAGE_SIZE), doorbells,
                    interrupts, vector);
            createAtController(pair);
            IoQueue queue = new IoQueue(this, pair, new QueueRecovery(this, pair, options.ioTimeout().toNanos()));
            ioQueues.add(queue);
            return queue;
        }
    }

    /** Create I/O Completion Queue, then Submission Queue, for {@code pair}'s memory. */
    private void createAtController(QueuePair pair) throws IOException {
        int qid = pair.id, entries = pair.entries, vector = pair.vector();
        doorbells.clearShadow(qid);
        int cqFlags = QUEUE_PHYSICALLY_CONTIGUOUS | (interrupts != null ? CQ_INTERRUPTS_ENABLED : 0);
        adminCommand("Create I/O Completion Queue " + qid, ADMIN_CREATE_CQ, 0, pair.completions.iova(),
                (entries - 1) << 16 | qid, vector << 16 | cqFlags);
        adminCommand("Create I/O Submission Queue " + qid, ADMIN_CREATE_SQ, 0, pair.submissions.iova(),
                (entries - 1) << 16 | qid, qid << 16 | QUEUE_PHYSICALLY_CONTIGUOUS);
    }

    /** Zeroed DMA memory for data (page-aligned), reachable by the device until {@link #release} or close. */
    public DmaRegion allocateBuffer(long bytes) throws IOException {
        return memory.allocate(bytes);
    }

    /** Ends a buffer from {@link #allocateBuffer}. */
    public void release(DmaRegion buffer) throws IOException {
        memory.release(buffer);
    }

    /** Throws IllegalStateException once the driver is closed (its queues' memory is gone) or a reset failed. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the NVMe driver is closed");
        }
        IOException failed = resets.failure();
        if (failed != null) {
            throw new IllegalStateException("the NVMe driver is unusable: " + failed.getMessage(), failed);
        }
    }

    /**
     * Deletes the I/O queues (SQ, then CQ), shuts the controller down (CC.SHN normal, then waits for
     * CSTS.SHST complete within the shutdown timeout), and releases the interrupts, the doorbell
     * mapping and the DMA memory. Throws when the controller did not complete its shutdown in time
     * (everything is released all the same). Idempotent.
     */
    @Override
    public void close() throws IOException {
        synchronized (adminLock) {
            if (closed) {
                return;
            }
            resets.disarm();   // an admin command that times out now ends the close, not in a reset
            IOException failed = null;
            try {
                if (device.isConnected() && resets.failure() == null) {
                    deleteIoQueues();
                    shutDown();
                } else if (device.isConnected()) {
                    disable();   // a failed reset: whatever the controller still does, it stops reaching the memory
                }
            } catch (IOException e) {
                failed = e;
            }
            closed = true;
            try {
                release();
            } catch (IOException e) {
                if (failed == null) {
                    failed = e;
                }
            }
            if (failed != null) {
                throw failed;
            }
        }
    }

    private void deleteIoQueues() throws IOException {
        for (int i = ioQueues.size() - 1; i >= 0; i--) {
            if (!ioQueues.get(i).recovery().createdIn(resets.generation())) {
                continue;   // not created again since a reset: its thread did not use it since
            }
            int qid = ioQueues.get(i).id();
            adminCommand("Delete I/O Submission Queue " + qid, ADMIN_DELETE_SQ, 0, 0, qid, 0);
            adminCommand("Delete I/O Completion Queue " + qid, ADMIN_DELETE_CQ, 0, 0, qid, 0);
        }
        ioQueues.clear();
    }

    /** §3.6.2: CC.SHN = 01b, then CSTS.SHST = 10b within the bound. */
    private void shutDown() throws IOException {
        int cc = device.read32(BAR, REG_CC);
        device.write32(BAR, REG_CC, cc & ~(CC_SHN_MASK << CC_SHN_SHIFT) | SHN_NORMAL << CC_SHN_SHIFT);
        long deadline = System.nanoTime() + options.shutdownTimeout().toNanos();
        while ((device.read32(BAR, REG_CSTS) & CSTS_SHST_MASK) != SHST_COMPLETE << CSTS_SHST_SHIFT) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("the controller did not complete its shutdown within " + options.shutdownTimeout());
            }
            sleep(REGISTER_POLL);
        }
    }

    private void release() throws IOException {
        if (interrupts != null) {
            interrupts.close();
        }
        if (doorbells != null) {
            doorbells.close();
        }
        memory.close();
    }
}
