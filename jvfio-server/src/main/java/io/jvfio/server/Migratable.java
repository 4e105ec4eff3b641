package io.jvfio.server;

/**
 * A device that can be live-migrated (VFIO migration v2). A {@link PciDevice} that implements it
 * gets the whole protocol — DEVICE_FEATURE MIGRATION / MIG_DEVICE_STATE, MIG_DATA_READ/WRITE,
 * GET_PRECOPY_INFO — and the PCI core saves its own part (config space, MSI-X table and PBA)
 * itself; the device adds only its own state.
 *
 * <p>Order of calls: {@link #quiesce()} when the device must stop (RUNNING → STOP, PRE_COPY →
 * STOP_COPY), {@link #saveState} while pre-copying (device running) and once more after the stop,
 * {@link #loadState} on the destination (device stopped), {@link #resume()} when it runs again.
 * Calls come from the session thread; a device that also changes state on its own threads
 * synchronizes save and load with them.
 */
public interface Migratable {
    /**
     * Writes the device's own state as one or more sections ({@link StateWriter#section}). Must be
     * deterministic: the same state gives the same bytes (pre-copy re-sends a section whose bytes
     * changed). Section names starting with {@code pci.} belong to the core.
     */
    void saveState(StateWriter out);

    /**
     * Reads back what {@link #saveState} wrote, possibly by an older version of the device (look
     * at each section's version). Throw {@link VfioException} to refuse the stream; the core then
     * restores the device's previous state, so fields may be assigned as they are read.
     */
    void loadState(StateReader in) throws VfioException;

    /**
     * Stops the device: finish or abandon in-flight work (a virtio device completes the requests it
     * took from its queues and writes their used entries), so that after this returns the device
     * changes no state, does no DMA and raises no interrupt until {@link #resume()}. InterruptLines the
     * device raises anyway are held by the core and delivered on resume.
     */
    default void quiesce() throws VfioException {}

    /**
     * Stops the device as {@link #quiesce()} does, for a successor process on this host (a live
     * upgrade) rather than for another host: what the device wrote to files need not be made
     * durable now, since the successor opens the same files and reads them through the same page
     * cache (writes the guest flushed were made durable then; the others are in the page cache
     * either way). The same as {@link #quiesce()} unless the device says otherwise.
     */
    default void quiesceForSuccessor() throws VfioException {
        quiesce();
    }

    /** Runs again after a stop (or after a load, on the destination). */
    default void resume() throws VfioException {}
}
