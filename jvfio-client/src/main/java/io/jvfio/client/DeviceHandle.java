package io.jvfio.client;

import io.jvfio.linux.EventFd;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * An opened VFIO device, whatever carries the calls: a vfio-user server ({@link VfioUserClient}) or
 * the kernel's VFIO ({@link io.jvfio.client.kernel.KernelVfioDevice}); {@link Devices#open} opens
 * either by name. The calls are VFIO's own (device, region and
 * irq info, region access and mmap, DMA map/unmap, SET_IRQS, reset, DEVICE_FEATURE with what
 * migration v2 needs), with VFIO's structs as the records of {@code io.jvfio.protocol}; drivers,
 * lspci and {@link MigrationDriver} are written against this interface.
 *
 * <p><b>Threading.</b> Every method may be called from many threads at once; each call is done when it
 * returns (a region write has reached the device, a DMA map is in force, an irq is wired). Calls from
 * one thread reach the device in the order made.
 *
 * <p><b>Errors.</b> Calls throw {@link IOException}; one that carries an errno is a
 * {@link DeviceException}: the device's refusal (EINVAL, ENOTSUP, ...), ETIMEDOUT when the device
 * did not answer in time, EPROTO when its answer makes no sense, and ENOTCONN once the device is
 * gone (the connection lost, or the handle closed) — then {@link #isConnected()} is false, every
 * waiting call fails at once and every later call fails the same way. Bad arguments are
 * IllegalArgumentException. The regions mapped, DMA buffers and interrupts handed out end with
 * their own {@code close()} or with the handle's.
 */
public interface DeviceHandle extends AutoCloseable {

    // ---------------------------------------------------------------- device, regions, irqs

    /** The device info (the 16-byte struct, without capabilities). */
    DeviceInfo deviceInfo() throws IOException;

    /** The device info offering {@code argsz} bytes; 24 or more asks for the capability chain. */
    DeviceInfo deviceInfo(int argsz) throws IOException;

    /** A region's info, with the fd to mmap it when it is mmap-able (owned by the description). */
    RegionDescription regionInfo(int index) throws IOException;

    IrqInfo irqInfo(int index) throws IOException;

    // ---------------------------------------------------------------- region access

    /** The largest piece one region or migration-data transfer moves; longer ones are split. */
    long transferChunk();

    /** Reads {@code dst.byteSize()} bytes of region {@code region} at {@code offset}. */
    void regionRead(int region, long offset, MemorySegment dst) throws IOException;

    /** Reads {@code count} bytes of region {@code region} at {@code offset} into a new array. */
    default byte[] regionRead(int region, long offset, int count) throws IOException {
        byte[] data = new byte[count];
        regionRead(region, offset, MemorySegment.ofArray(data));
        return data;
    }

    /** Writes {@code src} to region {@code region} at {@code offset}. */
    void regionWrite(int region, long offset, MemorySegment src) throws IOException;

    /** One 1-byte read, zero-extended; as the 2-, 4- and 8-byte ones, little-endian, one access to the device. */
    int read8(int region, long offset) throws IOException;

    int read16(int region, long offset) throws IOException;

    int read32(int region, long offset) throws IOException;

    long read64(int region, long offset) throws IOException;

    /** One 1-byte write (the low byte of {@code value}); as the 2-, 4- and 8-byte ones, one access to the device. */
    void write8(int region, long offset, int value) throws IOException;

    void write16(int region, long offset, int value) throws IOException;

    void write32(int region, long offset, int value) throws IOException;

    void write64(int region, long offset, long value) throws IOException;

    /**
     * Maps an mmap-able region into this process: the whole region, or each area of its SPARSE_MMAP
     * capability (the rest stays reachable through region reads and writes). ENOTSUP when the region
     * cannot be mapped.
     */
    MappedRegion mapRegion(int index) throws IOException;

    // ---------------------------------------------------------------- DMA

    /**
     * Allocates {@code size} bytes of memory the device reaches at {@code iova} (read and write), mapped
     * in this process too; {@link DmaBuffer#close()} unmaps it for the device and here.
     */
    DmaBuffer allocateDma(long iova, long size) throws IOException;

    /**
     * Lets the device reach {@code memory}, which this process owns, at {@code iova} with {@code flags}
     * ({@link Vfio#DMA_MAP_FLAG_READ}: the device reads it, {@link Vfio#DMA_MAP_FLAG_WRITE}: it writes
     * it). The memory must stay alive until it is unmapped. EEXIST when the range overlaps a mapped one.
     */
    void registerMemory(long iova, MemorySegment memory, int flags) throws IOException;

    /** Ends the DMA mapping at [iova, iova + size). */
    void dmaUnmap(long iova, long size) throws IOException;

    /** Ends every DMA mapping. */
    void dmaUnmapAll() throws IOException;

    // ---------------------------------------------------------------- interrupts

    /**
     * Wires an eventfd to each of the first {@code count} vectors of irq {@code index} and returns
     * the helper that waits for, polls, or calls back on them.
     */
    Interrupts interrupts(int index, int count) throws IOException;

    /** Wires {@code eventfds} as the triggers of vectors start.. of irq {@code index}; the caller keeps them. */
    void setIrqEventfds(int index, int start, List<EventFd> eventfds) throws IOException;

    /** Any other SET_IRQS: DATA_NONE or DATA_BOOL with MASK, UNMASK or TRIGGER; or de-assigning eventfds. */
    void setIrqs(IrqSet request) throws IOException;

    /** INTx unmask (what a VMM sends at the guest's EOI). */
    default void unmaskIntx() throws IOException {
        setIrqs(IrqSet.none(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_UNMASK, 0, 1));
    }

    // ---------------------------------------------------------------- reset, features, migration

    void reset() throws IOException;

    /** DEVICE_FEATURE; returns the reply (for GET the data is appended). */
    DeviceFeature feature(DeviceFeature request) throws IOException;

    /** Whether {@code feature} supports the {@code ops} (GET and/or SET bits); a refusal means "no". */
    boolean probeFeature(int feature, int ops) throws IOException;

    /** Which migration flavours the device supports (EINVAL or ENOTTY: not migratable). */
    FeatureMigration migrationFeature() throws IOException;

    MigrationState migrationState() throws IOException;

    /** Moves the device to {@code state}; the whole transition is done when this returns. */
    void setMigrationState(MigrationState state) throws IOException;

    /** Starts dirty logging of DMA writes to {@code ranges}; returns the page size it logs at. */
    long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException;

    void stopDmaLogging() throws IOException;

    /** The dirty bitmap of [iova, iova + length) at {@code pageSize}. */
    FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize) throws IOException;

    /** Up to {@code size} bytes of the device's migration data; fewer means no more for now (in STOP_COPY: the end). */
    byte[] migDataRead(int size) throws IOException;

    /** Hands {@code data} to a device in RESUMING. */
    void migDataWrite(byte[] data) throws IOException;

    /** The pre-copy data still to come, as the device estimates it. */
    PrecopyInfo precopyInfo() throws IOException;

    // ---------------------------------------------------------------- lifecycle

    /** Whether the device can still be reached (false once it is gone or closed). */
    boolean isConnected();

    /** Releases what the handle handed out, then the device; waiting calls fail with ENOTCONN. */
    @Override
    void close();
}
