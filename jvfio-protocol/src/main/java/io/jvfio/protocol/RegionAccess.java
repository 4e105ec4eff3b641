package io.jvfio.protocol;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;

/**
 * Zero-allocation flyweight for the REGION_READ (9) / REGION_WRITE (10) access struct, over the
 * <b>payload</b> segment (the bytes after the 16-byte header): {@code offset u64 @0, region u32 @8,
 * count u32 @12}, then {@code count} data bytes in a READ reply and a WRITE request.
 *
 * <p>Typical server hot path: {@code Header.validate(hdr, max)}; {@code RegionAccess.validate(payload, maxXfer,
 * isWrite)}; read {@link #offset}/{@link #region}/{@link #count}; answer a READ by writing the header, this
 * struct and the data into a preallocated reply buffer.
 */
public final class RegionAccess {
    private RegionAccess() {}

    public static final int SIZE = 16;
    public static final long OFF_OFFSET = 0;
    public static final long OFF_REGION = 8;
    public static final long OFF_COUNT = 12;
    /** Offset of the data bytes within the payload. */
    public static final long DATA_OFFSET = SIZE;

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
        if (payload.byteSize() < SIZE) {
            throw ProtocolException.invalid("region access: payload is " + payload.byteSize() + " bytes, needs " + SIZE);
        }
        long count = count(payload);
        if (count > maxCount) {
            throw new ProtocolException(Errno.E2BIG, "region access: count " + count + " exceeds the limit of " + maxCount);
        }
        if (withData && payload.byteSize() != SIZE + count) {
            throw ProtocolException.invalid("region access: payload is " + payload.byteSize() + " bytes, count "
                    + count + " needs " + (SIZE + count));
        }
        if (Wire.wraps(offset(payload), count)) {
            throw ProtocolException.invalid("region access: offset " + Wire.hex(offset(payload)) + " + count " + count
                    + " wraps around");
        }
    }
}
