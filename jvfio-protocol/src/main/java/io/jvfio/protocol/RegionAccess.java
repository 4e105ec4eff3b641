package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * Zero-allocation flyweight for the REGION_READ (9) / REGION_WRITE (10) access struct, over the
 * <b>payload</b> segment (the bytes after the 16-byte header), laid out by {@link #LAYOUT}:
 * {@code offset u64, region u32, count u32}, then {@code count} data bytes in a READ reply and a WRITE
 * request. {@link RegionReadRequest}, {@link RegionWriteReply} and {@link RegionData} are its records.
 *
 * <p>Typical server hot path: {@code Header.validate(hdr, max)}; {@code RegionAccess.validate(payload, maxXfer,
 * isWrite)}; read {@link #offset}/{@link #region}/{@link #count}; answer a READ by writing the header, this
 * struct and the data into a preallocated reply buffer.
 */
public final class RegionAccess {
    static final StructLayout LAYOUT = Struct.layout(Struct.u64("offset"), Struct.u32("region"), Struct.u32("count"));

    public static final int SIZE = (int) LAYOUT.byteSize();
    public static final long OFF_OFFSET = Struct.offset(LAYOUT, "offset");
    public static final long OFF_REGION = Struct.offset(LAYOUT, "region");
    public static final long OFF_COUNT = Struct.offset(LAYOUT, "count");
    /** Offset of the data bytes within the payload. */
    public static final long DATA_OFFSET = SIZE;

    private static final String WHAT = "region access";

    private RegionAccess() {}

    public static long offset(MemorySegment payload) {
        return Wire.i64(payload, OFF_OFFSET);
    }

    public static int region(MemorySegment payload) {
        return Wire.i32(payload, OFF_REGION);
    }

    /** The u32 count as a non-negative long. */
    public static long count(MemorySegment payload) {
        return Wire.u32(payload, OFF_COUNT);
    }

    public static void write(MemorySegment payload, long offset, int region, long count) {
        Wire.put64(payload, OFF_OFFSET, offset);
        Wire.put32(payload, OFF_REGION, region);
        Wire.put32(payload, OFF_COUNT, (int) count);
    }

    /** A view of the data bytes (after {@link #validate} with data). */
    public static MemorySegment data(MemorySegment payload) {
        return payload.asSlice(DATA_OFFSET, count(payload));
    }

    /**
     * Checks the payload: ≥ 16 bytes; count ≤ {@code maxCount} (E2BIG); with data, the payload is exactly
     * 16 + count bytes; without data (READ request, WRITE reply) extra bytes are ignored. The region's
     * offset + count must not wrap. Allocation-free unless it throws.
     */
    public static void validate(MemorySegment payload, long maxCount, boolean withData) throws ProtocolException {
        Wire.need(payload, SIZE, WHAT);
        Wire.checkAccess(payload, SIZE, offset(payload), count(payload), maxCount, withData, WHAT, "offset");
    }

    /** Validates ({@link #validate} without data) and decodes one of the records without data. */
    static <R extends Record> R decode(Struct<R> struct, MemorySegment payload, long maxCount) throws ProtocolException {
        validate(payload, maxCount, false);
        return struct.read(payload, SIZE);
    }
}
