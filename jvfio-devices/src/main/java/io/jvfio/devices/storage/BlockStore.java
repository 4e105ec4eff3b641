package io.jvfio.devices.storage;

import io.jvfio.linux.IoVectors;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * What a disk device stores its blocks in: a byte-addressed store of fixed size. Callers
 * bounds-check against {@link #size()}; every method may be called from several threads at once.
 */
public interface BlockStore extends AutoCloseable {
    long size();

    boolean isReadOnly();

    /** Fills {@code dst} from byte {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Stores all of {@code src} at byte {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    void writeZeros(long offset, long length) throws IOException;

    /**
     * Tells the store that [offset, offset + length) is no longer needed, so it may free that
     * space. Returns whether the range now reads as zeros; a store that cannot free space does
     * nothing and returns false (the old data may still be read).
     */
    default boolean deallocate(long offset, long length) throws IOException {
        return false;
    }

    /**
     * Whether {@link #read(long, IoVectors)} and {@link #write(long, IoVectors)} work: the store is
     * a file the kernel can read into, and write from, native memory (preadv/pwritev) directly.
     */
    default boolean transfersDirectly() {
        return false;
    }

    /** Fills the ranges of {@code vectors} from byte {@code offset}; only when {@link #transfersDirectly()}. */
    default void read(long offset, IoVectors vectors) throws IOException {
        throw new UnsupportedOperationException("no direct reads from " + this);
    }

    /** Stores the ranges of {@code vectors} at byte {@code offset}; only when {@link #transfersDirectly()}. */
    default void write(long offset, IoVectors vectors) throws IOException {
        throw new UnsupportedOperationException("no direct writes to " + this);
    }

    /** Makes every completed write durable. */
    void flush() throws IOException;

    @Override
    void close() throws IOException;
}
