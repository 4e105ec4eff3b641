package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * Zero-allocation flyweight for the struct DMA_READ (11) and DMA_WRITE (12) requests and replies begin
 * with, laid out by {@link #LAYOUT}: {@code address u64, count u64}, then {@code count} data bytes in a
 * DMA_READ reply and a DMA_WRITE request.
 */
final class DmaAccess {
    static final StructLayout LAYOUT = Struct.layout(Struct.u64("address"), Struct.u64("count"));
    static final int SIZE = (int) LAYOUT.byteSize();
    static final long OFF_ADDRESS = Struct.offset(LAYOUT, "address");
    static final long OFF_COUNT = Struct.offset(LAYOUT, "count");

    private DmaAccess() {}

    static long address(MemorySegment p) {
        return Wire.i64(p, OFF_ADDRESS);
    }

    static long count(MemorySegment p) {
        return Wire.i64(p, OFF_COUNT);
    }

    /** Writes the struct; {@code what} names the message when the destination is too small. */
    static void write(MemorySegment d, long address, long count, String what) {
        Wire.checkDst(d, SIZE, what);
        Wire.put64(d, OFF_ADDRESS, address);
        Wire.put64(d, OFF_COUNT, count);
    }

    /**
     * Checks a request: ≥ 16 bytes, count ≤ {@code maxCount} (E2BIG), with data exactly 16 + count bytes,
     * address + count does not wrap; returns count. Allocation-free unless it throws.
     */
    static long validate(MemorySegment p, long maxCount, boolean withData, String what) throws ProtocolException {
        Wire.need(p, SIZE, what);
        long count = count(p);
        Wire.checkAccess(p, SIZE, address(p), count, maxCount, withData, what, "address");
        return count;
    }
}
