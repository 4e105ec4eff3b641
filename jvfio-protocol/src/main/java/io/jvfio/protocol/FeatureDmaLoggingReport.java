package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * DEVICE_FEATURE DMA_LOGGING_REPORT (8) data: {@code iova u64 @0, length u64 @8, page_size u64 @16}; the GET
 * reply repeats them and appends the bitmap at @24 (u64 words, bit i = page {@code iova + i × page_size}).
 * The request carries an empty bitmap.
 */
public record FeatureDmaLoggingReport(long iova, long length, long pageSize, byte[] bitmap) implements Payload {
    public static final int SIZE = 24;

    public FeatureDmaLoggingReport {
        bitmap = bitmap == null ? new byte[0] : bitmap.clone();
    }

    public static FeatureDmaLoggingReport request(long iova, long length, long pageSize) {
        return new FeatureDmaLoggingReport(iova, length, pageSize, null);
    }

    /** Bitmap bytes for a range: ceil(pages / 64) u64 words. */
    public static long bitmapSize(long length, long pageSize) {
        long pages = Long.divideUnsigned(length, pageSize) + (Long.remainderUnsigned(length, pageSize) != 0 ? 1 : 0);
        return ((pages + 63) >>> 6) * 8;
    }

    public long expectedBitmapSize() {
        return bitmapSize(length, pageSize);
    }

    @Override
    public byte[] bitmap() {
        return bitmap.clone();
    }

    @Override
    public long encodedSize() {
        return SIZE + bitmap.length;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        Wire.put64(d, 0, iova);
        Wire.put64(d, 8, length);
        Wire.put64(d, 16, pageSize);
        Wire.putBytes(d, SIZE, bitmap);
    }

    /** Request (no bitmap) or reply (bitmap = the remaining bytes, which must then be the expected size). */
    public static FeatureDmaLoggingReport decode(MemorySegment data) throws ProtocolException {
        Wire.need(data, SIZE, "DEVICE_FEATURE DMA_LOGGING_REPORT");
        long iova = Wire.i64(data, 0);
        long length = Wire.i64(data, 8);
        long pageSize = Wire.i64(data, 16);
        if (pageSize == 0 || Long.bitCount(pageSize) != 1) {
            throw ProtocolException.invalid("DEVICE_FEATURE DMA_LOGGING_REPORT: page_size "
                    + Long.toUnsignedString(pageSize) + " is not a power of two");
        }
        if (length == 0 || Wire.wraps(iova, length)) {
            throw ProtocolException.invalid("DEVICE_FEATURE DMA_LOGGING_REPORT: iova " + Wire.hex(iova) + " + length "
                    + Wire.hex(length) + " is empty or wraps around");
        }
        long present = data.byteSize() - SIZE;
        long expected = bitmapSize(length, pageSize);
        if (present != 0 && present != expected) {
            throw ProtocolException.invalid("DEVICE_FEATURE DMA_LOGGING_REPORT: bitmap is " + present
                    + " bytes, the range needs " + expected);
        }
        return new FeatureDmaLoggingReport(iova, length, pageSize, Wire.bytes(data, SIZE, present));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureDmaLoggingReport r && r.iova == iova && r.length == length && r.pageSize == pageSize
                && Arrays.equals(r.bitmap, bitmap);
    }

    @Override
    public int hashCode() {
        return ((Long.hashCode(iova) * 31 + Long.hashCode(length)) * 31 + Long.hashCode(pageSize)) * 31 + Arrays.hashCode(bitmap);
    }

    @Override
    public String toString() {
        return "FeatureDmaLoggingReport[iova=" + Wire.hex(iova) + ", length=" + Wire.hex(length) + ", pageSize="
                + pageSize + ", bitmap=" + HexFormat.of().formatHex(bitmap) + "]";
    }
}
