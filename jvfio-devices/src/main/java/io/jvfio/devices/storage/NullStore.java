package io.jvfio.devices.storage;

import java.nio.ByteBuffer;

/**
 * A store that holds nothing, for benchmarks: reads return zeros, writes are dropped, flushes
 * do nothing — no storage is touched.
 */
public final class NullStore implements BlockStore {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 16);

    private final long size;

    public NullStore(long size) {
        if (size < 512) {
            throw new IllegalArgumentException("a null store of " + size + " bytes is smaller than one sector");
        }
        this.size = size;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), ZEROS.capacity());
            dst.put(dst.position(), ZEROS, 0, n);   // absolute: ZEROS is shared by every thread and never moves
            dst.position(dst.position() + n);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        src.position(src.limit());
    }

    @Override
    public void writeZeros(long offset, long length) {}

    /** Nothing is stored: the range reads zeros already. */
    @Override
    public boolean deallocate(long offset, long length) {
        return true;
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
}
