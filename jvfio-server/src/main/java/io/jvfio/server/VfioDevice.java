package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.server.faults.Faults;
import java.lang.foreign.MemorySegment;

/**
 * The operations a vfio-user client can ask of a device — jvfio's {@code vfio_device_ops}. The
 * session decodes messages into these calls and encodes their results; a device knows nothing of
 * the wire. Most devices extend {@link PciDevice}, which implements all of them for PCI.
 *
 * <p>Calls arrive from one session thread, in the client's order. A device that also changes state
 * from other threads synchronizes itself. DMA through {@link DmaView} to client memory given
 * without an fd travels as DMA_READ/DMA_WRITE messages whose replies the session thread reads:
 * do it from a device thread — from these callbacks it fails with EDEADLK.
 */
public interface VfioDevice {
    /** A short name for logs and tools. */
    default String name() {
        return getClass().getSimpleName();
    }

    /** A client connected; {@code context} describes it. */
    default void open(SessionContext context) throws VfioException {}

    /** The client went away; its DMA windows and eventfds are already gone. Device state stays. */
    default void close() {}

    DeviceSpec info();

    RegionSpec regionInfo(int index) throws VfioException;

    IrqSpec irqInfo(int index) throws VfioException;

    void setIrqs(IrqSetting request) throws VfioException;

    /** Fills {@code dst} from region {@code index} at {@code offset}; the device checks the bounds. */
    void regionRead(int index, long offset, MemorySegment dst) throws VfioException;

    void regionWrite(int index, long offset, MemorySegment src) throws VfioException;

    /**
     * The device's fault registry — region accesses (which the server checks), interrupts, DMA and
     * the device's own faults — or null for a device without one (the server then keeps a registry
     * for region accesses).
     */
    default Faults faults() {
        return null;
    }

    /** The words fault plans and the control socket use for this device: the core's, and its own. */
    default FaultVocabulary faultVocabulary() {
        return FaultVocabulary.core();
    }

    /** DEVICE_RESET: back to power-on state. */
    default void reset() throws VfioException {
        throw new VfioException(Errno.ENOTTY, "reset is not supported");
    }

    /**
     * DEVICE_FEATURE: {@code flags} carries the feature index and GET/SET/PROBE bits, {@code data}
     * the request's data; returns the reply data. Unsupported features answer EINVAL (what clients
     * read as "not supported").
     */
    default byte[] feature(int flags, byte[] data) throws VfioException {
        throw new VfioException(Errno.EINVAL, "device feature %d is not supported".formatted(flags & 0xffff));
    }

    /**
     * The device's migration (VFIO migration v2), if it can be migrated. The session then answers
     * DEVICE_FEATURE MIGRATION and MIG_DEVICE_STATE, MIG_DATA_READ/WRITE and GET_PRECOPY_INFO from
     * it, and refuses the commands a stopped device must not execute. A {@link PciDevice} that
     * implements {@link Migratable} has one.
     */
    default java.util.Optional<DeviceMigration> migration() {
        return java.util.Optional.empty();
    }
}
