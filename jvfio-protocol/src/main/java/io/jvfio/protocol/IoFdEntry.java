package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * One sub-region of a DEVICE_GET_REGION_IO_FDS reply: {@code offset u64 @0, size u64 @8, fd_index u32 @16,
 * type u32 @20, flags u32 @24, u32 @28 (padding, or shadow_mem_fd_index for type 2), u64 @32 (datamatch /
 * user_data / shadow_offset), and for type 2 only datamatch u64 @40}. Types 0 and 1 need 40 bytes, type 2 48.
 */
public record IoFdEntry(long offset, long size, int fdIndex, int type, int flags, int shadowMemFdIndex,
                        long data, long shadowDatamatch) {
    public static final int TYPE_IOEVENTFD = 0;
    public static final int TYPE_IOREGIONFD = 1;
    /** libvfio-user's shadow ioeventfd (needs patched KVM/QEMU). */
    public static final int TYPE_SHADOW_IOEVENTFD = 2;
    public static final int SIZE = 40;
    public static final int SHADOW_SIZE = 48;

    public static IoFdEntry ioeventfd(long offset, long size, int fdIndex, int flags, long datamatch) {
        return new IoFdEntry(offset, size, fdIndex, TYPE_IOEVENTFD, flags, 0, datamatch, 0);
    }

    public static IoFdEntry ioregionfd(long offset, long size, int fdIndex, int flags, long userData) {
        return new IoFdEntry(offset, size, fdIndex, TYPE_IOREGIONFD, flags, 0, userData, 0);
    }

    public static IoFdEntry shadowIoeventfd(long offset, long size, int fdIndex, int flags, int shadowMemFdIndex,
                                            long shadowOffset, long datamatch) {
        return new IoFdEntry(offset, size, fdIndex, TYPE_SHADOW_IOEVENTFD, flags, shadowMemFdIndex, shadowOffset, datamatch);
    }

    /** Bytes this entry needs (40, or 48 for the shadow type). */
    public int entrySize() {
        return type == TYPE_SHADOW_IOEVENTFD ? SHADOW_SIZE : SIZE;
    }

    public long datamatch() {
        return type == TYPE_SHADOW_IOEVENTFD ? shadowDatamatch : data;
    }

    public long userData() {
        return data;
    }

    public long shadowOffset() {
        return data;
    }

    void encode(MemorySegment d, long stride) {
        d.asSlice(0, stride).fill((byte) 0);
        Wire.put64(d, 0, offset);
        Wire.put64(d, 8, size);
        Wire.put32(d, 16, fdIndex);
        Wire.put32(d, 20, type);
        Wire.put32(d, 24, flags);
        Wire.put32(d, 28, shadowMemFdIndex);
        Wire.put64(d, 32, data);
        if (type == TYPE_SHADOW_IOEVENTFD) {
            Wire.put64(d, 40, shadowDatamatch);
        }
    }

    static IoFdEntry decode(MemorySegment d, long stride) throws ProtocolException {
        int type = Wire.i32(d, 20);
        if (type == TYPE_SHADOW_IOEVENTFD && stride < SHADOW_SIZE) {
            throw ProtocolException.invalid("DEVICE_GET_REGION_IO_FDS: shadow ioeventfd entry needs " + SHADOW_SIZE
                    + " bytes, stride is " + stride);
        }
        return new IoFdEntry(Wire.i64(d, 0), Wire.i64(d, 8), Wire.i32(d, 16), type, Wire.i32(d, 24),
                Wire.i32(d, 28), Wire.i64(d, 32), type == TYPE_SHADOW_IOEVENTFD ? Wire.i64(d, 40) : 0);
    }
}
