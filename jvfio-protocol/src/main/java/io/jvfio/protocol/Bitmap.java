package io.jvfio.protocol;

/**
 * {@code struct vfio_user_bitmap {pgsize u64, size u64, data[]}} of a DMA_UNMAP with GET_DIRTY_BITMAP:
 * {@code size} is the bitmap's byte length; {@code data} is empty in the request and {@code size} bytes
 * in the reply (bit i = page {@code address + i * pgsize} dirty).
 */
public record Bitmap(long pgsize, long size, byte[] data) {
    static final Struct<Bitmap> STRUCT = Struct.of(Bitmap.class, "DMA_UNMAP bitmap", Struct.u64("pgsize"), Struct.u64("size"));
    public static final int HEADER_SIZE = STRUCT.size();

    public Bitmap { data = data.clone(); }

    /** A request-side bitmap descriptor (no data). */
    public static Bitmap request(long pgsize, long size) {
        return new Bitmap(pgsize, size, new byte[0]);
    }

    /** A reply-side bitmap with its data ({@code size = data.length}). */
    public static Bitmap of(long pgsize, byte[] data) {
        return new Bitmap(pgsize, data.length, data);
    }

    @Override public byte[] data() { return data.clone(); }

    public boolean isDirty(long page) {
        long byteIndex = page >>> 3;
        return byteIndex < data.length && (data[(int) byteIndex] & (1 << (page & 7))) != 0;
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
