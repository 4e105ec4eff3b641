package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DMA_UNMAP (3) request and reply (the reply echoes the request): {@code argsz u32, flags u32, address u64,
 * size u64} (24 bytes), followed, with {@link Vfio#DMA_UNMAP_FLAG_GET_DIRTY_BITMAP}, by a
 * {@link Bitmap} (16-byte header; data only in the reply). {@code bitmap} is null without that flag.
 * Decode checks: argsz ≥ 24 (≥ 40 + bitmap size with a bitmap), known flags, ALL and GET_DIRTY_BITMAP
 * exclusive, ALL needs address = size = 0, otherwise address + size must not wrap.
 */
public record DmaUnmap(int argsz, int flags, long address, long size, Bitmap bitmap) implements Payload {
    static final Struct<DmaUnmap> STRUCT = Struct.of(DmaUnmap.class, "DMA_UNMAP",
            Struct.u32("argsz"), Struct.u32("flags"), Struct.u64("address"), Struct.u64("size")).checkingArgsz();
    public static final int SIZE = STRUCT.size();
    public static final int KNOWN_FLAGS = Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | Vfio.DMA_UNMAP_FLAG_ALL;

    public static DmaUnmap of(long address, long size) {
        return new DmaUnmap(SIZE, 0, address, size, null);
    }

    /** UNMAP_ALL: every window, address = size = 0. */
    public static DmaUnmap all() {
        return new DmaUnmap(SIZE, Vfio.DMA_UNMAP_FLAG_ALL, 0, 0, null);
    }

    public boolean isAll() {
        return (flags & Vfio.DMA_UNMAP_FLAG_ALL) != 0;
    }

    public boolean wantsDirtyBitmap() {
        return (flags & Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) != 0;
    }

    @Override
    public long encodedSize() {
        return SIZE + (bitmap == null ? 0 : Bitmap.HEADER_SIZE + bitmap.data().length);
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        STRUCT.encode(d, this);
        if (bitmap != null) {
            Bitmap.STRUCT.encode(d.asSlice(SIZE), bitmap);
        }
    }

    public static DmaUnmap decode(MemorySegment p) throws ProtocolException {
        DmaUnmap u = STRUCT.decode(p, (Object) null);
        Wire.noUnknownFlags(Integer.toUnsignedLong(u.flags), KNOWN_FLAGS, "DMA_UNMAP");
        if (u.isAll() && u.wantsDirtyBitmap()) {
            throw ProtocolException.invalid("DMA_UNMAP: ALL and GET_DIRTY_BITMAP are exclusive");
        }
        if (u.isAll() && (u.address != 0 || u.size != 0)) {
            throw ProtocolException.invalid("DMA_UNMAP: ALL needs address and size 0, got address "
                    + Wire.hex(u.address) + " size " + Wire.hex(u.size));
        }
        if (Wire.wraps(u.address, u.size)) {
            throw ProtocolException.invalid("DMA_UNMAP: address " + Wire.hex(u.address) + " + size " + Wire.hex(u.size)
                    + " wraps around");
        }
        return u.wantsDirtyBitmap() ? new DmaUnmap(u.argsz, u.flags, u.address, u.size, decodeBitmap(p, u.argsz)) : u;
    }

    private static Bitmap decodeBitmap(MemorySegment p, int argsz) throws ProtocolException {
        Wire.need(p, SIZE + Bitmap.HEADER_SIZE, "DMA_UNMAP with GET_DIRTY_BITMAP");
        MemorySegment b = p.asSlice(SIZE);
        Bitmap header = Bitmap.STRUCT.read(b, Bitmap.HEADER_SIZE, (Object) new byte[0]);
        long bsize = header.size();
        Wire.powerOfTwo(header.pgsize(), "DMA_UNMAP: bitmap pgsize");
        if (Long.compareUnsigned(bsize, 0xFFFF_FFFFL) > 0 || ArgSz.unsigned(argsz) < SIZE + Bitmap.HEADER_SIZE + bsize) {
            throw ProtocolException.invalid("DMA_UNMAP: argsz " + ArgSz.unsigned(argsz)
                    + " cannot hold the " + Long.toUnsignedString(bsize) + "-byte dirty bitmap");
        }
        long present = b.byteSize() - Bitmap.HEADER_SIZE;
        if (present == 0) {
            return header;
        } else if (present < bsize) {
            throw ProtocolException.invalid("DMA_UNMAP: bitmap data is " + present + " bytes, size says " + bsize);
        }
        return new Bitmap(header.pgsize(), bsize, Wire.bytes(b, Bitmap.HEADER_SIZE, bsize));
    }
}
