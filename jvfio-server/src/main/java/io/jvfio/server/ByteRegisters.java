package io.jvfio.server;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A block of 8-bit registers, the way simple I/O cards are specified: an access of any width is
 * carried out byte by byte in address order (little-endian), so each register's side effects
 * happen exactly as a byte-wise driver would cause them.
 */
public abstract class ByteRegisters implements RegionHandler {
    /** The value read at {@code offset} (0-255); side effects allowed. */
    protected abstract int readRegister(int offset);

    /** A byte written at {@code offset}. */
    protected abstract void writeRegister(int offset, int value);

    @Override
    public final void read(long offset, MemorySegment dst) {
        for (long i = 0; i < dst.byteSize(); i++) {
            dst.set(ValueLayout.JAVA_BYTE, i, (byte) readRegister((int) (offset + i)));
        }
    }

    @Override
    public final void write(long offset, MemorySegment src) {
        for (long i = 0; i < src.byteSize(); i++) {
            writeRegister((int) (offset + i), Byte.toUnsignedInt(src.get(ValueLayout.JAVA_BYTE, i)));
        }
    }
}
