package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u32;
import static io.jvfio.protocol.Struct.u64;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;

/**
 * DMA_MAP (2) request, 32 bytes ({@link #STRUCT}). The reply has no payload. argsz here is the size of the
 * request struct (≥ 32). With an fd attached, {@code offset} is the offset into that fd. Decode checks:
 * argsz ≥ 32, known flags, access modes not both set, size &gt; 0, and neither address + size nor offset +
 * size wraps past 2^64. Whether an fd is required is checked by {@link #checkFds}.
 */
public record DmaMap(int argsz, int flags, long offset, long address, long size) implements StructPayload {
    static final Struct<DmaMap> STRUCT = Struct.of(DmaMap.class, "DMA_MAP",
            u32("argsz"), u32("flags"), u64("offset"), u64("address"), u64("size")).checkingArgsz();
    public static final int SIZE = STRUCT.size();
    public static final int KNOWN_FLAGS = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE
            | Vfio.DMA_MAP_FLAG_ACCESS_MMAP | Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO;

    public static DmaMap of(int flags, long offset, long address, long size) {
        return new DmaMap(SIZE, flags, offset, address, size);
    }

    public boolean readable() {
        return (flags & Vfio.DMA_MAP_FLAG_READ) != 0;
    }

    public boolean writable() {
        return (flags & Vfio.DMA_MAP_FLAG_WRITE) != 0;
    }

    /** Last address of the window (inclusive); after {@link #decode} it never wraps (a window may end at 2^64). */
    public long last() {
        return address + size - 1;
    }

    public static DmaMap decode(MemorySegment p) throws ProtocolException {
        DmaMap m = STRUCT.decode(p);
        Wire.noUnknownFlags(Integer.toUnsignedLong(m.flags), KNOWN_FLAGS, "DMA_MAP");
        if ((m.flags & Vfio.DMA_MAP_FLAG_ACCESS_MMAP) != 0 && (m.flags & Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO) != 0) {
            throw ProtocolException.invalid("DMA_MAP: access modes MMAP and FILE_IO are exclusive");
        }
        if (m.size == 0) {
            throw ProtocolException.invalid("DMA_MAP: size is 0");
        }
        if (Wire.wraps(m.address, m.size)) {
            throw ProtocolException.invalid("DMA_MAP: address " + Wire.hex(m.address) + " + size " + Wire.hex(m.size)
                    + " wraps around");
        }
        if (Wire.wraps(m.offset, m.size)) {
            throw ProtocolException.invalid("DMA_MAP: offset " + Wire.hex(m.offset) + " + size " + Wire.hex(m.size)
                    + " wraps around");
        }
        return m;
    }

    /** Checks the attached fd count against the flags: 0 or 1, and the access-mode bits need an fd. */
    public void checkFds(int fds) throws ProtocolException {
        Command.checkFdCount(Command.DMA_MAP, fds);
        if (fds == 0 && (flags & (Vfio.DMA_MAP_FLAG_ACCESS_MMAP | Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO)) != 0) {
            throw new ProtocolException(Errno.EINVAL, "DMA_MAP: an access mode is set but no fd is attached");
        }
    }
}
