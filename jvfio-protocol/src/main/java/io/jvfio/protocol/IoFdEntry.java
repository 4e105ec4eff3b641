package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * One sub-region of a DEVICE_GET_REGION_IO_FDS reply: {@code offset u64, size u64, fd_index u32, type u32,
 * flags u32, u32 (padding, or shadow_mem_fd_index for type 2), u64 (datamatch / user_data / shadow_offset),
 * and for type 2 only datamatch u64}. Types 0 and 1 need 40 bytes, type 2 48.
 */
public record IoFdEntry(long offset, long size, int fdIndex, int type, int flags, int shadowMemFdIndex,
                        long data, long shadowDatamatch) {
    public static final int TYPE_IOEVENTFD = 0;
    public static final int TYPE_IOREGIONFD = 1;
    /** libvfio-user's shadow ioeventfd (needs patched KVM/QEMU). */
    public static final int TYPE_SHADOW_IOEVENTFD = 2;
    static final Struct<IoFdEntry> STRUCT = Struct.of(IoFdEntry.class, "DEVICE_GET_REGION_IO_FDS entry",
            Struct.u64("offset"), Struct.u64("size"), Struct.u32("fdIndex"), Struct.u32("type"), Struct.u32("flags"),
            Struct.u32("shadowMemFdIndex"), Struct.u64("data"), Struct.u64("shadowDatamatch"));
    public static final int SIZE = (int) STRUCT.offset("shadowDatamatch");
    public static final int SHADOW_SIZE = STRUCT.size();
    private static final long OFF_TYPE = STRUCT.offset("type");

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
        STRUCT.write(d, this, entrySize());
    }

    static IoFdEntry decode(MemorySegment d, long stride) throws ProtocolException {
        int type = Wire.i32(d, OFF_TYPE);
        if (type == TYPE_SHADOW_IOEVENTFD && stride < SHADOW_SIZE) {
            throw ProtocolException.invalid("DEVICE_GET_REGION_IO_FDS: shadow ioeventfd entry needs " + SHADOW_SIZE
                    + " bytes, stride is " + stride);
        }
        return STRUCT.read(d, type == TYPE_SHADOW_IOEVENTFD ? SHADOW_SIZE : SIZE);
    }
}
