package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.devices.storage.BlockStore;
import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.pci.PcieDeviceType;
import io.jvfio.server.DmaView;
import io.jvfio.server.Migratable;
import io.jvfio.server.PciDevice;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.FaultVocabulary;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * An NVM Express 1.4 controller over PCI Express (class 01:08:02) that Linux's nvme driver
 * binds to: BAR 0 (64-bit) holds the controller registers, the doorbells from 0x1000 (stride 4,
 * trapped) and the MSI-X table and PBA; one MSI-X vector per completion queue (the admin queue
 * and up to 64 I/O queue pairs), INTx when MSI-X is off (level: asserted while an interrupting
 * completion queue holds unconsumed entries and INTMS leaves its vector unmasked).
 *
 * <p>The controller reads like the specification's chapters: {@link ControllerRegisters} is BAR 0's
 * register file and the CC.EN / CC.SHN handshakes (§3.1, §7.6); {@link QueueRegistry} holds the
 * queues by id, routes doorbells to them and hands out the shadow doorbell buffers (§5.8);
 * {@link InterruptRouting} sends each completion queue's interrupt to its MSI-X vector or to the
 * INTx level under INTMS (§7.5); {@link AdminCommands} and {@link IoCommands} are the command sets.
 * DEVICE_RESET and a client disconnect reset the controller at once. A queue that cannot reach
 * host memory sets CSTS.CFS, as a real controller reports an internal fatal error.
 *
 * <p>Each submission queue has a worker thread ({@link SubmissionQueue}); trapped doorbell
 * writes only record the new tail or head and wake it, so the session thread never waits for
 * a command, and message-based DMA (unshared guest memory) works. Once the host sends Doorbell
 * Buffer Config (OACS bit 8), the I/O queues also read their tails and heads from its shadow
 * doorbell buffer and publish EventIdx ({@link ShadowDoorbell}), so at depth the host seldom rings;
 * admin doorbells stay trapped only, as Linux uses them. Resets forget the buffers.
 * {@link #doorbellStatistics()} counts trapped doorbells against commands. With
 * {@link Builder#polledDoorbells} the doorbell page is mapped by the client and polled
 * ({@link PolledDoorbellPage}).
 *
 * <p>Namespaces come and go at run time ({@link #attachNamespace}, {@link #detachNamespace}) on ids up to
 * NN ({@link Builder#maxNamespaces}); the host learns of it by a Namespace Attribute Changed event.
 *
 * <p>Live-migratable ({@link ControllerMigration}): a stop completes the commands in hand and
 * fetches no more; registers, features, queues, shadow buffers and outstanding event requests
 * travel, and the destination goes on from the saved heads.
 *
 * <pre>{@code
 * NvmeController nvme = NvmeController.builder().namespace(BlockImage.open(path, 0, false)).build();
 * VfioUserServer.bind(socket, nvme, ServerOptions.defaults()).start();
 * }</pre>
 */
public final class NvmeController extends PciDevice implements Migratable {
    /** jvfio's PCI ids (no vendor quirks apply to them); Linux binds nvme by class code. */
    public static final int VENDOR_ID = 0x4a56, DEVICE_ID = 0x0e01;
    public static final int CLASS_CODE = 0x010802;
    public static final int MAX_IO_QUEUE_PAIRS = 64;
    /** An MSI-X vector per completion queue: the admin queue and every I/O queue. */
    static final int VECTORS = MAX_IO_QUEUE_PAIRS + 1;
    /** MDTS: 2^7 pages = 512 KiB per command. */
    public static final int DEFAULT_MDTS = 7;
    static final int BAR_INDEX = 0;
    static final long BAR_SIZE = 0x4000, MSIX_TABLE_OFFSET = 0x2000, MSIX_PBA_OFFSET = 0x3000;

    private static final System.Logger LOG = System.getLogger(NvmeController.class.getName());

    final Features features = new Features(MAX_IO_QUEUE_PAIRS, VECTORS);
    final Identify identify;
    final LogPages logs;
    final AsyncEvents events;
    final NvmeFaults faults;
    private final ControllerIdentity controllerIdentity;
    private final Namespaces namespaces;
    private final int msixFlagsOffset;
    private final SubmissionQueue.Host host = new QueueHost();
    private final DoorbellStatistics doorbellStatistics = new DoorbellStatistics();
    private final InterruptRouting interrupts;
    private final QueueRegistry queues;
    private final ControllerRegisters registers;
    private final ControllerMigration migration;
    /** The admin command set of the current enabled period, or null before the first enable. */
    private volatile AdminCommands adminCommands;

    private NvmeController(ControllerIdentity identity, List<BlockStore> stores, int maxNamespaces, int lbaShift,
                           boolean polledDoorbells) {
        super(configSpace(identity.vendorId()), new NvmeFaults());
        this.faults = (NvmeFaults) super.faults();
        faults.bind(this);
        this.controllerIdentity = identity;
        this.namespaces = new Namespaces(maxNamespaces, stores, lbaShift, identity.serial());
        this.identify = new Identify(identity, namespaces);
        this.logs = new LogPages(identity.firmware());
        this.events = new AsyncEvents(features, logs);
        this.msixFlagsOffset = config().msix().orElseThrow().offset() + 2;
        this.interrupts = new InterruptRouting(new CoreLines(), this::completionQueue);
        this.queues = new QueueRegistry(host, interrupts, doorbellStatistics, polledDoorbells);
        this.registers = new ControllerRegisters(this, queues, interrupts);
        this.migration = new ControllerMigration(this, registers, queues, interrupts);
        PolledDoorbellPage page = queues.polledPage();
        if (page != null) {
            // A client that does not map the page still rings through trapped writes to the registers' handler.
            bar(BAR_INDEX, registers, page.mmap());
            page.startPolling(name() + "-doorbells");
        } else {
            bar(BAR_INDEX, registers);
        }
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

    /** The active namespaces' sizes in bytes, by ascending namespace id. */
    public List<Long> namespaceSizes() {
        return namespaces.active().stream().map(ns -> ns.blocks() << ns.lbaShift()).toList();
    }

    /**
     * Attaches {@code store} as a namespace on the lowest inactive namespace id, and returns that id:
     * Identify lists it from now on, it joins the Changed Namespace List and a Namespace Attribute
     * Changed event is reported if the host enabled it (Linux then rescans and adds the block
     * device). The controller closes the store at {@link #shutdown()} unless it is detached first.
     * Not from the vfio-user session's thread (see {@link AsyncEvents}).
     *
     * @throws IllegalStateException when every id up to NN ({@link Builder#maxNamespaces}) is active
     * @throws IllegalArgumentException when the store holds no whole block
     */
    public int attachNamespace(BlockStore store) {
        int nsid = namespaces.attach(store).nsid();
        events.namespacesChanged(nsid);
        return nsid;
    }

    /**
     * Detaches namespace {@code nsid} and gives its store back, not closed: the caller closes it.
     * From now on I/O commands to it complete with Invalid Namespace or Format, Identify
     * Namespace reads zeros for it, and the host learns of the change as for an attach. Returns once
     * no command uses the store any more, so the caller may close it at once.
     *
     * @throws IllegalArgumentException when namespace {@code nsid} is not active
     */
    public BlockStore detachNamespace(int nsid) {
        Namespace ns = namespaces.detach(nsid);
        for (SubmissionQueue sq : queues.submissionQueues()) {
            if (sq.executor() instanceof IoCommands io) {
                io.awaitDone(ns);
            }
        }
        events.namespacesChanged(nsid);
        return ns.store();
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

    /** Doorbells taken from the mapped doorbell page (polled mode) so far. */
    long polledDoorbells() {
        PolledDoorbellPage page = queues.polledPage();
        return page == null ? 0 : page.doorbells();
    }

    /** Raises asynchronous events (SMART critical warnings, namespace changes, any other) for the host. */
    public AsyncEvents asyncEvents() {
        return events;
    }

    /**
     * The controller's fault registry: the core's faults and NVMe's own — commands failed, delayed,
     * never completed or with a corrupt completion, CSTS.CFS, subsystem resets, thermal events,
     * critical warnings, read-only media (see {@link NvmeFaults}).
     */
    @Override
    public NvmeFaults faults() {
        return faults;
    }

    /** NVMe's fault words ({@code nvme-command}, {@code complete}, {@code subsystem-reset}, …) and the core's. */
    @Override
    public FaultVocabulary faultVocabulary() {
        return NvmeFaults.vocabulary();
    }

    /** CSTS as the host reads it. */
    public int status() {
        return registers.status();
    }

    // ------------------------------------------------------------------ migration

    @Override
    public void saveState(StateWriter out) {
        migration.save(out);
    }

    @Override
    public void loadState(StateReader in) throws VfioException {
        migration.load(in);
    }

    @Override
    public void quiesce() throws VfioException {
        migration.quiesce(true);
    }

    /** Waits for the commands in hand; the successor reads what they wrote through this host's page cache. */
    @Override
    public void quiesceForSuccessor() throws VfioException {
        migration.quiesce(false);
    }

    @Override
    public void resume() {
        migration.resume();
    }

    // ------------------------------------------------------------------ for the registers, the command sets and the migration

    /** CC.EN 0→1 accepted: the admin queue pair, served by a fresh admin command set. Under the registers' lock. */
    void openAdminQueues(long asq, int sqEntries, long acq, int cqEntries) {
        CompletionQueue adminCq = new CompletionQueue(0, acq, cqEntries, true, 0);
        queues.openAdmin(newAdminQueue(asq, sqEntries, adminCq, new int[0]), adminCq);
    }

    /** The admin submission queue with a fresh admin command set holding {@code eventRequests} (command ids). */
    SubmissionQueue newAdminQueue(long base, int entries, CompletionQueue cq, int[] eventRequests) {
        AdminCommands commands = new AdminCommands(this);
        adminCommands = commands;
        SubmissionQueue admin = new SubmissionQueue(0, base, entries, cq, commands, host, name() + "-admin");
        events.restore(admin, eventRequests);
        return admin;
    }

    SubmissionQueue newIoQueue(int qid, long base, int entries, CompletionQueue cq) {
        IoCommands io = new IoCommands(namespaces, features, logs, controllerIdentity.maxTransferBytes());
        return new SubmissionQueue(qid, base, entries, cq, io, host, name() + "-sq" + qid);
    }

    /** The admin command set of the admin queue, or null if the controller was never enabled. */
    AdminCommands adminCommands() {
        return queues.submissionQueue(0) != null ? adminCommands : null;
    }

    /** The namespace ids 1..NN and the namespaces active on them. */
    Namespaces namespaces() {
        return namespaces;
    }

    void flushNamespaces() {
        for (Namespace ns : namespaces.active()) {
            try {
                ns.store().flush();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "{0}: flushing namespace {1}: {2}", name(), ns.nsid(), e.getMessage());
            }
        }
    }

    /** An NVM Subsystem Reset: the controller resets as on CC.EN 1→0 and sets CSTS.NSSRO. */
    void subsystemReset() {
        registers.subsystemReset();
    }

    /** Controller fatal status: the host notices CSTS.CFS at its next timeout and resets the controller. */
    void fatal(String why, Throwable cause) {
        LOG.log(System.Logger.Level.WARNING, name() + ": controller fatal status: " + why, cause);
        registers.fatal();
    }

    @Override
    protected void resetDevice() {
        registers.reset();
    }

    /** The client went away: its queues went with its memory. */
    @Override
    public void close() {
        registers.reset();
        super.close();
    }

    /** Stops every worker and closes the namespaces' stores; the controller serves no more clients. */
    public void shutdown() {
        for (SubmissionQueue sq : registers.shutDown()) {
            sq.awaitStopped();
        }
        if (queues.polledPage() != null) {
            queues.polledPage().close();
        }
        faults.close();
        for (Namespace ns : namespaces.active()) {
            try {
                ns.store().close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "{0}: closing namespace {1}: {2}", name(), ns.nsid(), e.getMessage());
            }
        }
    }

    // ------------------------------------------------------------------ what the admin command set reaches through the controller

    SubmissionQueue submissionQueue(int qid) {
        return queues.submissionQueue(qid);
    }

    CompletionQueue completionQueue(int qid) {
        return queues.completionQueue(qid);
    }

    boolean hasIoQueues() {
        return queues.hasIoQueues();
    }

    void addCompletionQueue(CompletionQueue cq) {
        queues.addCompletionQueue(cq);
    }

    void addSubmissionQueue(int qid, long base, int entries, CompletionQueue cq) {
        queues.addSubmissionQueue(newIoQueue(qid, base, entries, cq));
    }

    void configureShadowDoorbells(SubmissionQueue adminQueue, long doorbells, long eventIdx, DmaView dma)
            throws VfioException {
        queues.configureShadowDoorbells(adminQueue, doorbells, eventIdx, dma);
    }

    void removeSubmissionQueue(SubmissionQueue sq) {
        queues.removeSubmissionQueue(sq);
    }

    void removeCompletionQueue(CompletionQueue cq) {
        queues.removeCompletionQueue(cq);
    }

    int maxQueueEntries() {
        return ControllerRegisters.MAX_QUEUE_ENTRIES;
    }

    int submissionEntryShift() {
        return registers.submissionEntryShift();
    }

    int completionEntryShift() {
        return registers.completionEntryShift();
    }

    boolean msixEnabled() {
        return (config().read(msixFlagsOffset, 2) & 0x8000) != 0;
    }

    /** The PCI core's interrupt lines, for {@link InterruptRouting}. */
    private final class CoreLines implements InterruptRouting.Lines {
        @Override
        public boolean msixEnabled() {
            return NvmeController.this.msixEnabled();
        }

        @Override
        public void raise(int vector) {
            NvmeController.this.raise(vector);
        }

        @Override
        public void setIntx(boolean level) {
            NvmeController.this.setIntx(level);
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
            interrupts.interrupt(cq);
        }

        @Override
        public NvmeFaults.Verdict fault(SubmissionQueue queue, Command command) {
            return faults.apply(queue, command);
        }

        @Override
        public void completeLater(SubmissionQueue queue, Command command) {
            faults.completeLater(queue, command);
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
        private int maxNamespaces;
        private int mdts = DEFAULT_MDTS;
        private boolean shadowDoorbells = true;
        private boolean polledDoorbells;

        private Builder() {}

        /** Adds a namespace backed by {@code store} (the controller closes it at {@link #shutdown()}). */
        public Builder namespace(BlockStore store) {
            stores.add(store);
            return this;
        }

        /**
         * NN, the namespace ids the controller has (1 to {@value Namespaces#MAX_NAMESPACES}): room for
         * namespaces attached at run time. Default: as many as the namespaces given here.
         */
        public Builder maxNamespaces(int count) {
            if (count < 1 || count > Namespaces.MAX_NAMESPACES) {
                throw new IllegalArgumentException("NN must be 1-%d, not %d".formatted(Namespaces.MAX_NAMESPACES, count));
            }
            this.maxNamespaces = count;
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

        /** MDTS: the largest transfer is {@code 4 KiB << mdts} (1-8; default 7, 512 KiB). */
        public Builder mdts(int mdts) {
            if (mdts < 1 || mdts > 8) {
                throw new IllegalArgumentException("MDTS must be 1-8, not " + mdts);
            }
            this.mdts = mdts;
            return this;
        }

        /**
         * Whether Identify advertises Doorbell Buffer Config (OACS bit 8; default true). Without it
         * Linux never sets up shadow doorbells and rings a trapped doorbell for every submission:
         * the baseline of {@code jvfio bench nvme}.
         */
        public Builder shadowDoorbells(boolean advertised) {
            this.shadowDoorbells = advertised;
            return this;
        }

        /**
         * Polled doorbells: the doorbell page (BAR 0 0x1000..0x1fff) becomes a SPARSE_MMAP area the
         * client maps, and a thread polls it, so rings need no message; trapped writes still work.
         */
        public Builder polledDoorbells(boolean polled) {
            this.polledDoorbells = polled;
            return this;
        }

        public NvmeController build() {
            if (stores.isEmpty()) {
                throw new IllegalArgumentException("an NVMe controller needs at least one namespace");
            }
            if (maxNamespaces != 0 && maxNamespaces < stores.size()) {
                throw new IllegalArgumentException("%d namespaces, but NN is %d".formatted(stores.size(), maxNamespaces));
            }
            for (BlockStore s : stores) {
                if (s.size() >>> lbaShift == 0) {
                    throw new IllegalArgumentException("a namespace of %d bytes holds no %d-byte block".formatted(s.size(), 1 << lbaShift));
                }
            }
            String id = serial != null ? serial : "JV%08X".formatted(stores.stream().mapToLong(BlockStore::size).sum() * 31
                    + System.identityHashCode(stores.get(0)));
            return new NvmeController(new ControllerIdentity(VENDOR_ID, id, model, firmware, mdts, shadowDoorbells), stores,
                    maxNamespaces == 0 ? stores.size() : maxNamespaces, lbaShift, polledDoorbells);
        }
    }
}
