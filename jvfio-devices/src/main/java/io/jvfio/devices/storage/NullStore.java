package io.jvfio.devices.storage;

import java.nio.ByteBuffer;

/**
 * A store that holds nothing, for benchmarks: reads return zeros, writes are dropped, flushes
 * do nothing — no storage is touched.
 */
public final class NullStore implements BlockStore {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 16).asReadOnlyBuffer();

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
            dst.put(ZEROS.duplicate().limit(Math.min(dst.remaining(), ZEROS.capacity())));
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        src.position(src.limit());
    }

    @Override
    public void writeZeros(long offset, long length) {}

    @Override
    public void flush() {}

    @Override
    public void close() {}
}
