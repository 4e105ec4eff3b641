package io.jvfio.devices.nvme;

import io.jvfio.server.Access;
import io.jvfio.server.DmaView;
import io.jvfio.server.DmaWindow;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Client memory for walker tests: one window of heap memory at {@link #BASE}; anything else is EFAULT. */
final class HeapDmaView implements DmaView {
    static final long BASE = 0x10_0000;
    private static final int EFAULT = 14;

    final MemorySegment memory;
    /** DMA reads and writes so far. */
    int accesses;

    HeapDmaView(int size) {
        memory = MemorySegment.ofArray(new byte[size]);
    }

    private long offset(long iova, long length) throws VfioException {
        long at = iova - BASE;
        if (at < 0 || at > memory.byteSize() || length > memory.byteSize() - at) {
            throw new VfioException(EFAULT, "no window at 0x" + Long.toHexString(iova));
        }
        return at;
    }

    @Override
    public void read(long iova, MemorySegment dst) throws VfioException {
        accesses++;
        MemorySegment.copy(memory, offset(iova, dst.byteSize()), dst, 0, dst.byteSize());
    }

    @Override
    public void write(long iova, MemorySegment src) throws VfioException {
        accesses++;
        MemorySegment.copy(src, 0, memory, offset(iova, src.byteSize()), src.byteSize());
    }

    @Override
    public void read(long iova, MemorySegment dst, long offset, long length) throws VfioException {
        accesses++;
        MemorySegment.copy(memory, offset(iova, length), dst, offset, length);
    }

    @Override
    public void write(long iova, MemorySegment src, long offset, long length) throws VfioException {
        accesses++;
        MemorySegment.copy(src, offset, memory, offset(iova, length), length);
    }

    @Override
    public Optional<MemorySegment> segment(long iova, long length, boolean forWrite) {
        return Optional.empty();
    }

    @Override
    public boolean awaitMapped(long iova, long length) {
        return false;
    }

    @Override
    public List<DmaWindow> windows() {
        return List.of(new DmaWindow(BASE, memory.byteSize(), Set.of(Access.READ, Access.WRITE), true));
    }
}
