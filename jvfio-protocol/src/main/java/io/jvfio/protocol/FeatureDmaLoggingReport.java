package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u64;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_FEATURE DMA_LOGGING_REPORT (8) data: {@code iova u64, length u64, page_size u64}; the GET reply
 * repeats them and appends the bitmap (u64 words, bit i = page {@code iova + i × page_size}). The request
 * carries an empty bitmap.
 */
public record FeatureDmaLoggingReport(long iova, long length, long pageSize, byte[] bitmap) implements StructPayload {
    static final Struct<FeatureDmaLoggingReport> STRUCT = Struct.of(FeatureDmaLoggingReport.class, "DEVICE_FEATURE DMA_LOGGING_REPORT",
            u64("iova"), u64("length"), u64("pageSize"));
    public static final int SIZE = STRUCT.size();

    public FeatureDmaLoggingReport { bitmap = bitmap == null ? new byte[0] : bitmap.clone(); }

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

    @Override public byte[] bitmap() { return bitmap.clone(); }

    /** Request (no bitmap) or reply (bitmap = the remaining bytes, which must then be the expected size). */
    public static FeatureDmaLoggingReport decode(MemorySegment data) throws ProtocolException {
        FeatureDmaLoggingReport r = STRUCT.decode(data, (Object) null);
        String what = STRUCT.what();
        Wire.powerOfTwo(r.pageSize, what + ": page_size");
        if (r.length == 0 || Wire.wraps(r.iova, r.length)) {
            throw ProtocolException.invalid(what + ": iova " + Wire.hex(r.iova) + " + length " + Wire.hex(r.length)
                    + " is empty or wraps around");
        }
        long present = data.byteSize() - SIZE;
        if (present != 0 && present != r.expectedBitmapSize()) {
            throw ProtocolException.invalid(what + ": bitmap is " + present + " bytes, the range needs " + r.expectedBitmapSize());
        }
        return new FeatureDmaLoggingReport(r.iova, r.length, r.pageSize, Wire.bytes(data, SIZE, present));
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
