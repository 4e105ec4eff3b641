package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DMA_UNMAP (3) request and reply (the reply echoes the request): {@code argsz u32 @0, flags u32 @4,
 * address u64 @8, size u64 @16} (24 bytes), followed, with {@link Vfio#DMA_UNMAP_FLAG_GET_DIRTY_BITMAP}, by a
 * {@link Bitmap} (16-byte header; data only in the reply). {@code bitmap} is null without that flag.
 * Decode checks: argsz ≥ 24 (≥ 40 + bitmap size with a bitmap), known flags, ALL and GET_DIRTY_BITMAP
 * exclusive, ALL needs address = size = 0, otherwise address + size must not wrap.
 */
public record DmaUnmap(int argsz, int flags, long address, long size, Bitmap bitmap) implements Payload {
    public static final int SIZE = 24;
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
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, flags);
        Wire.put64(d, 8, address);
        Wire.put64(d, 16, size);
        if (bitmap != null) {
            Wire.put64(d, 24, bitmap.pgsize());
            Wire.put64(d, 32, bitmap.size());
            Wire.putBytes(d, 40, bitmap.data());
        }
    }

    public static DmaUnmap decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DMA_UNMAP");
        int argsz = Wire.i32(p, 0);
        int flags = Wire.i32(p, 4);
        long address = Wire.i64(p, 8);
        long size = Wire.i64(p, 16);
        Wire.argsz(ArgSz.unsigned(argsz), SIZE, "DMA_UNMAP");
        Wire.noUnknownFlags(Integer.toUnsignedLong(flags), KNOWN_FLAGS, "DMA_UNMAP");
        boolean all = (flags & Vfio.DMA_UNMAP_FLAG_ALL) != 0;
        boolean dirty = (flags & Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) != 0;
        if (all && dirty) {
            throw ProtocolException.invalid("DMA_UNMAP: ALL and GET_DIRTY_BITMAP are exclusive");
        }
        if (all && (address != 0 || size != 0)) {
            throw ProtocolException.invalid("DMA_UNMAP: ALL needs address and size 0, got address "
                    + Wire.hex(address) + " size " + Wire.hex(size));
        }
        if (Wire.wraps(address, size)) {
            throw ProtocolException.invalid("DMA_UNMAP: address " + Wire.hex(address) + " + size " + Wire.hex(size)
                    + " wraps around");
        }
        Bitmap bitmap = null;
        if (dirty) {
            Wire.need(p, SIZE + Bitmap.HEADER_SIZE, "DMA_UNMAP with GET_DIRTY_BITMAP");
            long pgsize = Wire.i64(p, 24);
            long bsize = Wire.i64(p, 32);
            if (pgsize == 0 || Long.bitCount(pgsize) != 1) {
                throw ProtocolException.invalid("DMA_UNMAP: bitmap pgsize " + Long.toUnsignedString(pgsize)
                        + " is not a power of two");
            }
            if (Long.compareUnsigned(bsize, 0xFFFF_FFFFL) > 0
                    || ArgSz.unsigned(argsz) < SIZE + Bitmap.HEADER_SIZE + bsize) {
                throw ProtocolException.invalid("DMA_UNMAP: argsz " + ArgSz.unsigned(argsz)
                        + " cannot hold the " + Long.toUnsignedString(bsize) + "-byte dirty bitmap");
            }
            long present = p.byteSize() - SIZE - Bitmap.HEADER_SIZE;
            byte[] data;
            if (present == 0) {
                data = new byte[0];
            } else if (present >= bsize) {
                data = Wire.bytes(p, SIZE + Bitmap.HEADER_SIZE, bsize);
            } else {
                throw ProtocolException.invalid("DMA_UNMAP: bitmap data is " + present + " bytes, size says " + bsize);
            }
            bitmap = new Bitmap(pgsize, bsize, data);
        }
        return new DmaUnmap(argsz, flags, address, size, bitmap);
    }
}
