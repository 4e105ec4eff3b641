package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * DEVICE_GET_REGION_IO_FDS (6) request and reply: {@code argsz u32, flags u32 (0), index u32, count u32},
 * then in the reply {@code count} {@link IoFdEntry sub-regions}. The entry stride is
 * computed as (argsz − 16) / count, never assumed (40 today, 48 with libvfio-user's shadow type). A reply
 * whose entries did not fit the offered argsz carries only the 16 bytes, with count and argsz set.
 */
public record RegionIoFds(int argsz, int flags, int index, int count, List<IoFdEntry> entries) implements Payload {
    static final Struct<RegionIoFds> STRUCT = Struct.of(RegionIoFds.class, "DEVICE_GET_REGION_IO_FDS",
            Struct.u32("argsz"), Struct.u32("flags"), Struct.u32("index"), Struct.u32("count")).checkingArgsz();
    public static final int SIZE = STRUCT.size();

    public RegionIoFds {
        entries = List.copyOf(entries);
        if (!entries.isEmpty() && entries.size() != count) {
            throw new IllegalArgumentException("count " + count + " but " + entries.size() + " entries");
        }
    }

    public static RegionIoFds request(int argsz, int index) {
        return new RegionIoFds(argsz, 0, index, 0, List.of());
    }

    /** A reply that never exceeds {@code offeredArgsz}. */
    public static RegionIoFds reply(long offeredArgsz, int index, List<IoFdEntry> entries) {
        long full = SIZE + (long) strideOf(entries) * entries.size();
        Wire.checkU32(full, "DEVICE_GET_REGION_IO_FDS reply size");
        return new RegionIoFds((int) full, 0, index, entries.size(),
                ArgSz.fits(full, offeredArgsz) ? entries : List.of());
    }

    static int strideOf(List<IoFdEntry> entries) {
        int stride = IoFdEntry.SIZE;
        for (IoFdEntry e : entries) {
            stride = Math.max(stride, e.entrySize());
        }
        return stride;
    }

    /** Highest fd_index + 1: the number of fds the reply must carry at least (≥ 1 by the spec). */
    public int fdCount() {
        return entries.stream().mapToInt(e -> e.fdIndex() + 1).reduce(0, Math::max);
    }

    @Override
    public long encodedSize() {
        return SIZE + (long) strideOf(entries) * entries.size();
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        STRUCT.encode(d, this);
        int stride = strideOf(entries);
        long off = SIZE;
        for (IoFdEntry e : entries) {
            e.encode(d.asSlice(off, stride), stride);
            off += stride;
        }
    }

    public static RegionIoFds decode(MemorySegment p) throws ProtocolException {
        RegionIoFds r = STRUCT.decode(p, List.of());
        long uargsz = ArgSz.unsigned(r.argsz);
        long ucount = Integer.toUnsignedLong(r.count);
        if (r.flags != 0) {
            throw ProtocolException.invalid("DEVICE_GET_REGION_IO_FDS: flags must be 0, got " + Wire.hex(Integer.toUnsignedLong(r.flags)));
        }
        List<IoFdEntry> entries = new ArrayList<>();
        if (ucount > 0 && p.byteSize() > SIZE) {
            long stride = (uargsz - SIZE) / ucount;
            if (stride < IoFdEntry.SIZE) {
                throw ProtocolException.invalid("DEVICE_GET_REGION_IO_FDS: entry stride (argsz " + uargsz + " - 16) / count "
                        + ucount + " = " + stride + " is below " + IoFdEntry.SIZE);
            }
            Wire.need(p, SIZE + stride * ucount, "DEVICE_GET_REGION_IO_FDS with " + ucount + " entries of " + stride + " bytes");
            for (long i = 0; i < ucount; i++) {
                entries.add(IoFdEntry.decode(p.asSlice(SIZE + i * stride, stride), stride));
            }
        }
        return new RegionIoFds(r.argsz, r.flags, r.index, r.count, entries);
    }
}
