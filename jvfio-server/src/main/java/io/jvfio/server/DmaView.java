package io.jvfio.server;

import io.jvfio.linux.IoVectors;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;

/**
 * The client's memory as a device reaches it: reads, writes and in-place segments at IOVAs. What
 * shapes that memory — DMA_MAP and DMA_UNMAP, dirty logging — belongs to the session, not here.
 *
 * <p>An access that lands in an unmap/map gap waits it out: QEMU unmaps and maps guest RAM again
 * when the firmware reshapes memory (SeaBIOS reprograms the PAM registers while it looks for a
 * boot disk). Shortly after an unmap, an access that finds no window waits up to
 * {@link #REMAP_GRACE} for one to cover it again before it fails; memory that stays away is a fault.
 */
public interface DmaView {
    /** How long an access waits for memory that vanished in an unmap to come back. */
    java.time.Duration REMAP_GRACE = java.time.Duration.ofMillis(200);

    /**
     * Fills {@code dst} from client memory at {@code iova}. EFAULT outside the windows, EPERM on a
     * write-only window; windows without an fd are reached by DMA_READ messages (do that from a
     * device thread: from a device callback it fails with EDEADLK). An injected DMA fault fails it
     * as a rule says (the rule's errno, or EFAULT for a window it removed).
     */
    void read(long iova, MemorySegment dst) throws VfioException;

    /** Copies {@code src} to client memory at {@code iova}. EFAULT outside the windows, EPERM on a read-only window. */
    void write(long iova, MemorySegment src) throws VfioException;

    /**
     * {@link #read(long, MemorySegment)} into {@code length} bytes of {@code dst} from {@code offset}:
     * the same as reading into {@code dst.asSlice(offset, length)}, without the slice, so a device
     * that moves a command's data range by range allocates nothing where the memory is mapped.
     */
    default void read(long iova, MemorySegment dst, long offset, long length) throws VfioException {
        read(iova, dst.asSlice(offset, length));
    }

    /** {@link #write(long, MemorySegment)} of {@code length} bytes of {@code src} from {@code offset}; see {@link #read(long, MemorySegment, long, long)}. */
    default void write(long iova, MemorySegment src, long offset, long length) throws VfioException {
        write(iova, src.asSlice(offset, length));
    }

    /**
     * Moves data straight between a file and mapped client memory, with no copy through the JVM:
     * fills {@code vectors} with the native addresses of the first {@code total} bytes of the
     * ranges ({@code iovas[i]}, {@code lengths[i]}, {@code count} of them) and runs {@code io}
     * (a preadv or pwritev) while the windows stay mapped — an unmap waits for it. Ranges written
     * ({@code toClient}) are then marked dirty for migration. Returns false, running nothing, when
     * a range is not inside one mapped window with the access needed (windows reached by message),
     * when the ranges hold fewer bytes or more pieces than {@code vectors} takes: the caller then
     * copies; also while a DMA fault rule of the device is armed, so each transfer meets the rules
     * once, in the copy. Allocates nothing.
     */
    default boolean transferMapped(long[] iovas, long[] lengths, int count, long total, boolean toClient,
                                   IoVectors vectors, MappedTransfer io) throws IOException {
        return false;
    }

    /** The system call of {@link #transferMapped}, given the client memory's native ranges. */
    @FunctionalInterface
    interface MappedTransfer {
        void transfer(IoVectors vectors) throws IOException;
    }

    /**
     * Direct access to mapped client memory for devices that work in place (rings, buffers). The
     * segment becomes unusable (IllegalStateException on access, never a crash) once its window
     * is unmapped. Empty when the range is not inside one mapped window, and while a DMA fault
     * rule of the device is armed (the device then copies with {@link #read}/{@link #write}, which meet
     * the rules).
     */
    Optional<MemorySegment> segment(long iova, long length, boolean forWrite);

    /**
     * Waits out an unmap/map gap: true as soon as one window covers [iova, iova + length), false
     * when none does within {@link #REMAP_GRACE} of a recent unmap (or at once without one).
     * A device whose segment went unusable calls this before asking for a new one.
     */
    boolean awaitMapped(long iova, long length);

    /** The windows now, in IOVA order. */
    List<DmaWindow> windows();
}
