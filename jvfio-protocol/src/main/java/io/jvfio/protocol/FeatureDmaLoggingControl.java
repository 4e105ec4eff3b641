package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * DEVICE_FEATURE DMA_LOGGING_START (6) data: {@code page_size u64 @0, num_ranges u32 @8, reserved u32 @12},
 * then num_ranges × {@code {iova u64, length u64}}; no ranges = log everything. page_size must be a power of two.
 */
public record FeatureDmaLoggingControl(long pageSize, List<Range> ranges) implements Payload {
    public static final int SIZE = 16;
    public static final int RANGE_SIZE = 16;

    public record Range(long iova, long length) {}

    public FeatureDmaLoggingControl {
        ranges = List.copyOf(ranges);
    }

    @Override
    public long encodedSize() {
        return SIZE + (long) RANGE_SIZE * ranges.size();
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        Wire.put64(d, 0, pageSize);
        Wire.put32(d, 8, ranges.size());
        Wire.put32(d, 12, 0);
        long off = SIZE;
        for (Range r : ranges) {
            Wire.put64(d, off, r.iova());
            Wire.put64(d, off + 8, r.length());
            off += RANGE_SIZE;
        }
    }

    public static FeatureDmaLoggingControl decode(MemorySegment data) throws ProtocolException {
        Wire.need(data, SIZE, "DEVICE_FEATURE DMA_LOGGING_START");
        long pageSize = Wire.i64(data, 0);
        long n = Wire.u32(data, 8);
        if (pageSize == 0 || Long.bitCount(pageSize) != 1) {
            throw ProtocolException.invalid("DEVICE_FEATURE DMA_LOGGING_START: page_size "
                    + Long.toUnsignedString(pageSize) + " is not a power of two");
        }
        Wire.need(data, SIZE + RANGE_SIZE * n, "DEVICE_FEATURE DMA_LOGGING_START with " + n + " ranges");
        List<Range> ranges = new ArrayList<>((int) n);
        for (long i = 0, off = SIZE; i < n; i++, off += RANGE_SIZE) {
            long iova = Wire.i64(data, off);
            long length = Wire.i64(data, off + 8);
            if (length == 0 || Wire.wraps(iova, length)) {
                throw ProtocolException.invalid("DEVICE_FEATURE DMA_LOGGING_START: range " + i + " (iova "
                        + Wire.hex(iova) + ", length " + Wire.hex(length) + ") is empty or wraps around");
            }
            ranges.add(new Range(iova, length));
        }
        return new FeatureDmaLoggingControl(pageSize, ranges);
    }
}
