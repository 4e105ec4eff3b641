package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.pci.MsixCapability;
import io.jvfio.pci.MsixTable;
import io.jvfio.pci.PciRegisters;
import io.jvfio.protocol.RegionTypeCap;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.Faults;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The PCI core every device builds on — jvfio's vfio-pci-core. It owns the config space (region
 * 7), the BAR regions (0-5, each served by the device's {@link RegionHandler}), the MSI-X table and
 * PBA inside their BAR, and the interrupt lines; it answers device, region and irq info and picks
 * the interrupt mode the guest enabled when the device raises one.
 *
 * <p>A device supplies its config space layout and BAR handlers; a variant device extends another
 * device and overrides only the operations where it differs. A device that also implements
 * {@link Migratable} can be live-migrated: the core then saves and loads its own state (config
 * space, MSI-X table and PBA) and holds interrupts while the device is stopped.
 */
public abstract class PciDevice implements VfioDevice {
    private static final int ROM_REGION = Vfio.PCI_ROM_REGION_INDEX, CONFIG_REGION = Vfio.PCI_CONFIG_REGION_INDEX,
            VGA_REGION = Vfio.PCI_VGA_REGION_INDEX;

    private final ConfigSpace config;
    private final RegionHandler[] bars = new RegionHandler[6];
    /** Per BAR: the file the client may map it from, as the device declared it (null: none, or shared areas). */
    private final RegionSpec.Mmap[] barMmaps = new RegionSpec.Mmap[6];
    private final long[] barSizes = new long[6];
    private final List<DeviceRegion> deviceRegions = new CopyOnWriteArrayList<>();
    private final InterruptLines interrupts;
    private final Faults faults;
    private final MsixTable msixTable;
    private final MsixCapability msix;
    private volatile SessionContext context;
    private final DeviceMigration migration;
    /** False between a migration stop and the next start: interrupts are held, not delivered. */
    private volatile boolean running = true;
    private final BitSet heldVectors = new BitSet();
    /** Per BAR: the memfd behind its shared areas (null while it has none) and the areas, in the device's mapping. */
    private final Fd[] sharedFds = new Fd[6];
    private final List<List<SharedArea>> sharedAreas = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>(),
            new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());

    /** Part of a BAR that lives in shared memory: [offset, offset + size) of the BAR, and the device's view of it. */
    private record SharedArea(long offset, long size, Mapping mapping) {}
    /** A region beyond the nine PCI ones, announced with a region TYPE capability. */
    private record DeviceRegion(long size, Set<Access> access, RegionTypeCap type, RegionHandler handler) {}

    protected PciDevice(ConfigSpace config) {
        this(config, new Faults());
    }

    /** A device whose fault registry is {@code faults} (a subclass's typed registry, such as NVMe's). */
    protected PciDevice(ConfigSpace config, Faults faults) {
        this.config = config;
        this.faults = Objects.requireNonNull(faults, "faults");
        for (Bar bar : config.bars()) {
            barSizes[bar.index()] = bar.size();
        }
        this.msix = config.msix().orElse(null);
        this.msixTable = msix == null ? null : new MsixTable(msix.tableSize());
        int msiVectors = config.msi().map(m -> m.vectorsCapable()).orElse(0);
        InterruptLines.Builder lines = InterruptLines.builder().msi(msiVectors).msix(msix == null ? 0 : msix.tableSize()).err().req();
        if (hasIntxPin(config)) {
            lines.intx();
        }
        this.interrupts = lines.build();
        interrupts.attachFaults(faults);
        this.migration = this instanceof Migratable m ? new DeviceMigration(new CoreState(m)) : null;
    }

    /** Present when the device implements {@link Migratable}. */
    @Override
    public Optional<DeviceMigration> migration() {
        return Optional.ofNullable(migration);
    }

    /** False while a migration has the device stopped (STOP, STOP_COPY, RESUMING): it must not change state. */
    protected final boolean isRunning() {
        return running;
    }

    /** Serves BAR {@code index} with {@code handler} (every access trapped). */
    protected final void bar(int index, RegionHandler handler) {
        if (config.bar(index).isEmpty()) {
            throw new IllegalArgumentException("BAR " + index + " is not declared in the config space");
        }
        bars[index] = handler;
    }

    /**
     * Serves BAR {@code index} as libvfio-user's {@code vfu_setup_region} does, in one call: the
     * client may map it from {@code mmap}'s file — the whole BAR, or only {@code mmap}'s sparse
     * areas — and what it does not map (or does not map at all) is trapped and goes to
     * {@code handler}. The device owns the fd; it must outlive the device's clients.
     */
    protected final void bar(int index, RegionHandler handler, RegionSpec.Mmap mmap) {
        bar(index, handler);
        if (config.bar(index).orElseThrow().isIo()) {
            throw new IllegalArgumentException("BAR " + index + " is an I/O BAR: it cannot be mapped");
        }
        if (!sharedAreas.get(index).isEmpty()) {
            throw new IllegalArgumentException("BAR " + index + " already has shared areas");
        }
        barMmaps[index] = mmap;
    }

    /**
     * Puts [{@code offset}, {@code offset + size}) of BAR {@code index} in shared memory: a memfd
     * the client may mmap (a SPARSE_MMAP area in the BAR's region info; the rest of the BAR stays
     * trapped and goes to its handler). Returns the device's own mapping of the area: what a client
     * writes there the device sees with no message at all (a device polls it — a "polled doorbell"),
     * and what the device writes the client sees. A client that does not map the area reaches the
     * same memory through trapped REGION_READ/WRITE. Offset and size must be page-aligned; areas
     * must not overlap. Call it from the constructor. The memory lives as long as the device.
     */
    protected final MemorySegment sharedBarArea(int index, long offset, long size) {
        Bar bar = config.bar(index).orElseThrow(() -> new IllegalArgumentException("BAR " + index + " is not declared in the config space"));
        if (bar.isIo()) {
            throw new IllegalArgumentException("BAR " + index + " is an I/O BAR: it cannot be mapped");
        }
        long page = Linux.PAGE_SIZE;
        if (offset < 0 || size <= 0 || offset % page != 0 || size % page != 0 || offset + size > bar.size()) {
            throw new IllegalArgumentException("shared area [0x%x, +0x%x) of BAR %d (0x%x bytes) must be page-aligned and inside it"
                    .formatted(offset, size, index, bar.size()));
        }
        if (barMmaps[index] != null) {
            throw new IllegalArgumentException("BAR " + index + " is mapped from the device's own file");
        }
        for (SharedArea a : sharedAreas.get(index)) {
            if (offset < a.offset() + a.size() && a.offset() < offset + size) {
                throw new IllegalArgumentException("shared area [0x%x, +0x%x) of BAR %d overlaps another".formatted(offset, size, index));
            }
        }
        try {
            if (sharedFds[index] == null) {
                sharedFds[index] = Memfd.create("jvfio-bar" + index, bar.size());
            }
            Mapping mapping = Mapping.map(sharedFds[index], offset, size, true);
            sharedAreas.get(index).add(new SharedArea(offset, size, mapping));
            return mapping.segment();
        } catch (LinuxException e) {
            throw new IllegalStateException("cannot create shared memory for BAR " + index + ": " + e.getMessage(), e);
        }
    }

    /**
     * Registers a device-specific region after the nine PCI regions (index 9, 10, ...), announced
     * to clients with a region TYPE capability — the jvfio form of the kernel's
     * {@code vfio_pci_core_register_dev_region}. Returns the region's index.
     */
    protected final int deviceRegion(long size, int type, int subtype, Set<Access> access, RegionHandler handler) {
        deviceRegions.add(new DeviceRegion(size, access, new RegionTypeCap(type, subtype), handler));
        return Vfio.PCI_NUM_REGIONS + deviceRegions.size() - 1;
    }

    public final ConfigSpace config() {
        return config;
    }

    public final InterruptLines interrupts() {
        return interrupts;
    }

    /** The open session's context; empty while no client is connected. */
    protected final Optional<SessionContext> context() {
        return Optional.ofNullable(context);
    }

    /** The client's memory; throws when no client is connected. */
    protected final DmaView dma() throws VfioException {
        SessionContext c = context;
        if (c == null) {
            throw new VfioException(Errno.ENODEV, "no client connected");
        }
        return c.dma();
    }

    @Override
    public void open(SessionContext context) throws VfioException {
        this.context = context;
    }

    @Override
    public void close() {
        this.context = null;
        interrupts.reset();
    }

    /** The device's fault registry: region accesses, interrupts, DMA, and what a subclass adds. */
    @Override
    public Faults faults() {
        return faults;
    }

    @Override
    public DeviceSpec info() {
        return new DeviceSpec(Vfio.DEVICE_FLAGS_PCI | Vfio.DEVICE_FLAGS_RESET, Vfio.PCI_NUM_REGIONS + deviceRegions.size(),
                Vfio.PCI_NUM_IRQS, List.of());
    }

    @Override
    public RegionSpec regionInfo(int index) throws VfioException {
        if (index < 0) {
            throw VfioException.invalid("no region " + index);
        }
        if (index < 6) {
            List<SharedArea> shared = sharedAreas.get(index);
            if (!shared.isEmpty()) {
                return new RegionSpec(barSizes[index], Access.READ_WRITE, Optional.of(new RegionSpec.Mmap(sharedFds[index], 0,
                        shared.stream().map(a -> new RegionSpec.SparseArea(a.offset(), a.size())).toList())), List.of());
            }
            if (barMmaps[index] != null) {
                return new RegionSpec(barSizes[index], Access.READ_WRITE, Optional.of(barMmaps[index]), List.of());
            }
            return config.bar(index).map(bar -> RegionSpec.trapped(bar.size(), Access.READ_WRITE)).orElse(RegionSpec.absent());
        }
        if (index == CONFIG_REGION) {
            return RegionSpec.trapped(config.size(), Access.READ_WRITE);
        }
        if (index == ROM_REGION || index == VGA_REGION) {
            return RegionSpec.absent();
        }
        DeviceRegion r = deviceRegion(index);
        return new RegionSpec(r.size(), r.access(), Optional.empty(), List.of(r.type()));
    }

    @Override
    public IrqSpec irqInfo(int index) throws VfioException {
        return interrupts.info(index);
    }

    @Override
    public void setIrqs(IrqSetting request) throws VfioException {
        interrupts.set(request);
    }

    @Override
    public void regionRead(int index, long offset, MemorySegment dst) throws VfioException {
        checkAccess(index, offset, dst.byteSize(), false);
        if (index == CONFIG_REGION) {
            config.read((int) offset, dst);
            return;
        }
        if (msixAccess(index, offset, dst, false)) {
            return;
        }
        if (index < 6 && sharedFds[index] != null) {
            MemorySegment area = sharedArea(index, offset, dst.byteSize());
            if (area != null) {
                MemorySegment.copy(area, offset - sharedOffset(index, offset), dst, 0, dst.byteSize());
                return;
            }
        }
        barHandler(index).read(offset, dst);
    }

    @Override
    public void regionWrite(int index, long offset, MemorySegment src) throws VfioException {
        checkAccess(index, offset, src.byteSize(), true);
        if (index == CONFIG_REGION) {
            config.write((int) offset, src);
            return;
        }
        if (msixAccess(index, offset, src, true)) {
            return;
        }
        if (index < 6 && sharedFds[index] != null) {
            MemorySegment area = sharedArea(index, offset, src.byteSize());
            if (area != null) {
                MemorySegment.copy(src, 0, area, offset - sharedOffset(index, offset), src.byteSize());
                return;
            }
        }
        barHandler(index).write(offset, src);
    }

    /** Restores power-on state: config space, interrupt levels; then the device's own {@link #resetDevice()}. */
    @Override
    public void reset() throws VfioException {
        config.reset();
        if (msixTable != null) {
            msixTable.reset();
        }
        if (hasIntxPin(config)) {
            interrupts.setIntx(false);
        }
        resetDevice();
    }

    /** The device's own part of a reset; the core has already reset config space and interrupts. */
    protected void resetDevice() throws VfioException {}

    /**
     * Raises interrupt {@code vector} in whichever mode the guest enabled: MSI-X, else MSI, else
     * (vector 0) a pulse on INTx. Level-triggered devices use {@link #setIntx(boolean)} instead.
     * MSI-X table masks are not consulted: a VMM emulates the table itself and tells us about
     * masking through SET_IRQS (as the kernel's vfio-pci is told), so our copy of the table is
     * only storage.
     */
    protected final void raise(int vector) {
        if (!running) {
            synchronized (heldVectors) {
                heldVectors.set(vector);
            }
            return;
        }
        if (msix != null && config.msix().map(MsixCapability::enabled).orElse(false)) {
            if (vector < msix.tableSize()) {
                interrupts.trigger(Vfio.PCI_MSIX_IRQ_INDEX, vector);
            }
        } else if (config.msi().map(m -> m.enabled()).orElse(false)) {
            int enabled = config.msi().get().vectorsEnabled();
            if (vector < enabled) {
                interrupts.trigger(Vfio.PCI_MSI_IRQ_INDEX, vector);
            }
        } else if (vector == 0 && hasIntxPin(config)) {
            setIntx(true);
            setIntx(false);
        }
    }

    /** Drives the INTx level, honouring the Command register's INTx-disable bit. */
    protected final void setIntx(boolean level) {
        config.setInterruptStatus(level);
        if (running) {
            interrupts.setIntx(level && !config.isIntxDisabled());
        }
    }

    private boolean msixAccess(int index, long offset, MemorySegment data, boolean write) {
        if (msix == null) {
            return false;
        }
        long tableEnd = msix.tableOffset() + msix.tableBytes();
        boolean table = index == msix.tableBar() && offset >= msix.tableOffset() && offset + data.byteSize() <= tableEnd;
        long pbaEnd = msix.pbaOffset() + msix.pbaBytes();
        boolean pba = index == msix.pbaBar() && offset >= msix.pbaOffset() && offset + data.byteSize() <= pbaEnd;
        if (!table && !pba) {
            return false;
        }
        int base = (int) (offset - (table ? msix.tableOffset() : msix.pbaOffset()));
        for (int i = 0; i < data.byteSize(); i++) {
            if (write) {
                if (table) {
                    msixTable.write(base + i, 1, Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, i)));
                }
            } else {
                long value = table ? msixTable.read(base + i, 1) : msixTable.readPba(base + i, 1);
                data.set(ValueLayout.JAVA_BYTE, i, (byte) value);
            }
        }
        return true;
    }

    /** The shared area wholly holding [offset, offset + length) of BAR {@code index}, or null. */
    private MemorySegment sharedArea(int index, long offset, long length) {
        for (SharedArea a : sharedAreas.get(index)) {
            if (offset >= a.offset() && offset + length <= a.offset() + a.size()) {
                return a.mapping().segment();
            }
        }
        return null;
    }

    private long sharedOffset(int index, long offset) {
        for (SharedArea a : sharedAreas.get(index)) {
            if (offset >= a.offset() && offset < a.offset() + a.size()) {
                return a.offset();
            }
        }
        return 0;
    }

    private DeviceRegion deviceRegion(int index) throws VfioException {
        int i = index - Vfio.PCI_NUM_REGIONS;
        if (i < 0 || i >= deviceRegions.size()) {
            throw VfioException.invalid("no region " + index);
        }
        return deviceRegions.get(i);
    }

    private RegionHandler barHandler(int index) throws VfioException {
        if (index >= Vfio.PCI_NUM_REGIONS) {
            return deviceRegion(index).handler();
        }
        RegionHandler h = index < 6 ? bars[index] : null;
        if (h == null) {
            throw new VfioException(Errno.EINVAL, "region " + index + " has no handler");
        }
        return h;
    }

    // Allocation-free: this runs for every trapped access.
    private void checkAccess(int index, long offset, long length, boolean write) throws VfioException {
        long size;
        if (index < 0) {
            throw VfioException.invalid("no region " + index);
        } else if (index < 6) {
            size = barSizes[index];
        } else if (index == CONFIG_REGION) {
            size = config.size();
        } else if (index >= Vfio.PCI_NUM_REGIONS) {
            DeviceRegion r = deviceRegion(index);
            if (!r.access().contains(write ? Access.WRITE : Access.READ)) {
                throw VfioException.invalid("region %d is not %s".formatted(index, write ? "writable" : "readable"));
            }
            size = r.size();
        } else {
            size = 0;
        }
        if (offset < 0 || length < 0 || offset + length < offset || offset + length > size) {
            throw VfioException.invalid("access [0x%x, +0x%x) outside region %d of 0x%x bytes".formatted(offset, length, index, size));
        }
    }

    /** The core's side of migration: its own sections around the device's, stop and start. */
    private final class CoreState implements DeviceMigration.Target {
        private static final String CONFIG = "pci.config", MSIX = "pci.msix", HELD = "pci.held-interrupts";
        private static final int CONFIG_VERSION = 1, MSIX_VERSION = 1, HELD_VERSION = 1;
        /** MSI-X allows 2048 vectors: no held vector is beyond that. */
        private static final int MAX_VECTORS = 2048;
        private final Migratable device;
        private final String id;

        CoreState(Migratable device) {
            this.device = device;
            this.id = "%s %04x:%04x".formatted(PciDevice.this.getClass().getName(),
                    config.read(PciRegisters.VENDOR_ID, 2), config.read(PciRegisters.DEVICE_ID, 2));
        }

        @Override
        public String migrationId() {
            return id;
        }

        @Override
        public List<StateSection> save() {
            StateWriter out = new StateWriter();
            byte[] bytes = new byte[config.size()];
            config.read(0, bytes, 0, bytes.length);
            out.section(CONFIG, CONFIG_VERSION).bytes(bytes);
            if (msixTable != null) {
                byte[] table = new byte[msixTable.tableBytes()];
                for (int i = 0; i < table.length; i++) {
                    table[i] = (byte) msixTable.read(i, 1);
                }
                byte[] pba = new byte[msixTable.pbaBytes()];
                for (int i = 0; i < pba.length; i++) {
                    pba[i] = (byte) msixTable.readPba(i, 1);
                }
                out.section(MSIX, MSIX_VERSION).bytes(table).bytes(pba);
            }
            // InterruptLines raised after the stop (a virtio device completing its last requests)
            // travel with the state, so the destination delivers them when it starts.
            BitSet held;
            synchronized (heldVectors) {
                held = (BitSet) heldVectors.clone();
            }
            StateWriter.Section h = out.section(HELD, HELD_VERSION).u32(held.cardinality());
            held.stream().forEach(h::u16);
            device.saveState(out);
            return List.copyOf(out.sections());
        }

        @Override
        public void load(Map<String, StateSection> sections) throws VfioException {
            Map<String, StateSection> before = new LinkedHashMap<>();
            for (StateSection s : save()) {
                before.put(s.name(), s);
            }
            try {
                apply(sections);
            } catch (VfioException | RuntimeException refused) {
                try {
                    apply(before);
                } catch (VfioException | RuntimeException again) {
                    refused.addSuppressed(again);
                }
                throw refused instanceof VfioException v ? v : new VfioException(Errno.EINVAL,
                        "the device refused its migration state: " + refused, refused);
            }
        }

        /** Core sections are checked before the device reads its own, and applied only after it accepted them. */
        private void apply(Map<String, StateSection> sections) throws VfioException {
            StateReader in = new StateReader(sections);
            byte[] bytes = in.section(CONFIG).requireVersion(CONFIG_VERSION).bytes(config.size());
            byte[] table = null, pba = null;
            if (msixTable != null) {
                StateReader.Section s = in.section(MSIX).requireVersion(MSIX_VERSION);
                table = s.bytes(msixTable.tableBytes());
                pba = s.bytes(msixTable.pbaBytes());
            }
            BitSet held = new BitSet();
            if (in.has(HELD)) { // streams of jvfio 0.1 lack it
                StateReader.Section h = in.section(HELD).requireVersion(HELD_VERSION);
                int count = h.u32();
                if (count < 0 || count > MAX_VECTORS) {
                    throw VfioException.invalid("migration stream holds %d interrupts".formatted(count & 0xffffffffL));
                }
                for (int i = 0; i < count; i++) {
                    int vector = h.u16();
                    if (vector >= MAX_VECTORS) {
                        throw VfioException.invalid("migration stream holds interrupt vector " + vector);
                    }
                    held.set(vector);
                }
            }
            device.loadState(in);
            in.checkFullyRead();
            synchronized (heldVectors) {
                heldVectors.clear();
                heldVectors.or(held);
            }
            for (int offset = 0; offset < bytes.length; offset += 4) {
                config.deviceWrite(offset, 4, (bytes[offset] & 0xff) | (bytes[offset + 1] & 0xff) << 8
                        | (bytes[offset + 2] & 0xff) << 16 | (bytes[offset + 3] & 0xff) << 24);
            }
            if (table != null) {
                for (int i = 0; i < table.length; i++) {
                    msixTable.write(i, 1, table[i] & 0xff);
                }
                for (int vector = 0; vector < msixTable.tableSize(); vector++) {
                    msixTable.setPending(vector, (pba[vector / 8] & (1 << (vector % 8))) != 0);
                }
            }
        }

        @Override
        public void stop(boolean forSuccessor) throws VfioException {
            running = false;
            if (forSuccessor) {
                device.quiesceForSuccessor();
            } else {
                device.quiesce();
            }
        }

        @Override
        public void start() throws VfioException {
            running = true;
            device.resume();
            if (hasIntxPin(config)) {
                interrupts.setIntx(config.interruptStatus() && !config.isIntxDisabled());
            }
            BitSet held;
            synchronized (heldVectors) {
                held = (BitSet) heldVectors.clone();
                heldVectors.clear();
            }
            held.stream().forEach(PciDevice.this::raise);
        }
    }

    private static boolean hasIntxPin(ConfigSpace config) {
        return config.read(PciRegisters.INTERRUPT_PIN, 1) != 0;
    }

    /** Declared BARs, for tools. */
    public final List<Bar> declaredBars() {
        return config.bars();
    }
}
