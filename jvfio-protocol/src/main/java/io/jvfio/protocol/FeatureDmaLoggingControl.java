package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * DEVICE_FEATURE DMA_LOGGING_START (6) data: {@code page_size u64, num_ranges u32, reserved u32}, then
 * num_ranges × {@code {iova u64, length u64}}; no ranges = log everything. page_size must be a power of two.
 */
public record FeatureDmaLoggingControl(long pageSize, List<Range> ranges) implements Payload {
    public static final int SIZE = 16;
    public static final int RANGE_SIZE = Range.STRUCT.size();
    private static final String WHAT = "DEVICE_FEATURE DMA_LOGGING_START";

    public record Range(long iova, long length) {
        static final Struct<Range> STRUCT = Struct.of(Range.class, "DMA logging range", Struct.u64("iova"), Struct.u64("length"));
    }

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
        Range.STRUCT.encodeAll(d, SIZE, ranges);
    }

    public static FeatureDmaLoggingControl decode(MemorySegment data) throws ProtocolException {
        Wire.need(data, SIZE, WHAT);
        long pageSize = Wire.i64(data, 0);
        long n = Wire.u32(data, 8);
        Wire.powerOfTwo(pageSize, WHAT + ": page_size");
        Wire.need(data, SIZE + RANGE_SIZE * n, WHAT + " with " + n + " ranges");
        List<Range> ranges = Range.STRUCT.readAll(data, SIZE, n);
        for (int i = 0; i < ranges.size(); i++) {
            Range r = ranges.get(i);
            if (r.length == 0 || Wire.wraps(r.iova, r.length)) {
                throw ProtocolException.invalid(WHAT + ": range " + i + " (iova " + Wire.hex(r.iova) + ", length "
                        + Wire.hex(r.length) + ") is empty or wraps around");
            }
        }
        return new FeatureDmaLoggingControl(pageSize, ranges);
    }
}
