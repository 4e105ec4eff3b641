package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * DEVICE_GET_REGION_INFO (5) request and reply = {@code struct vfio_region_info} ({@link #STRUCT}, 32 bytes),
 * then in the reply an optional capability chain ({@link SparseMmapCap}, {@link RegionTypeCap},
 * {@link SparseMmapFdsCap}; others as {@link RawCapability}). cap_offset is derived: 32 when caps are present, else 0.
 *
 * <p>Build replies with {@link #reply}: when the caps do not fit the offered argsz, only the 32-byte struct
 * is sent (CAPS flag set, cap_offset 32) with argsz = the size needed.
 */
public record RegionInfo(int argsz, int flags, int index, long size, long offset, List<InfoCapability> caps)
        implements Payload {
    static final Struct<RegionInfo> STRUCT = Struct.of(RegionInfo.class, "DEVICE_GET_REGION_INFO", Struct.u32("argsz"),
            Struct.u32("flags"), Struct.u32("index"), Struct.u32("capOffset"), Struct.u64("size"), Struct.u64("offset"))
            .checkingArgsz();
    public static final int SIZE = STRUCT.size();
    private static final long OFF_CAP_OFFSET = STRUCT.offset("capOffset");

    public RegionInfo {
        caps = List.copyOf(caps);
    }

    /** A request: only argsz and index are set. QEMU starts with argsz 32 and retries with the returned argsz. */
    public static RegionInfo request(int argsz, int index) {
        return new RegionInfo(argsz, 0, index, 0, 0, List.of());
    }

    /** A reply that never exceeds {@code offeredArgsz}; sets {@link Vfio#REGION_INFO_FLAG_CAPS} when caps exist. */
    public static RegionInfo reply(long offeredArgsz, int index, int flags, long size, long offset,
                                   List<? extends InfoCapability> caps) {
        if (caps.isEmpty()) {
            return new RegionInfo(SIZE, flags, index, size, offset, List.of());
        }
        long full = SIZE + CapabilityChain.size(caps);
        Wire.checkU32(full, "DEVICE_GET_REGION_INFO reply size");
        int f = flags | Vfio.REGION_INFO_FLAG_CAPS;
        return new RegionInfo((int) full, f, index, size, offset,
                ArgSz.fits(full, offeredArgsz) ? List.copyOf(caps) : List.of());
    }

    /**
     * Where the chain starts: right after the struct whenever CAPS is set — also in a truncated
     * reply that carries no chain yet, because QEMU's vfio-user client refuses CAPS with a
     * cap_offset outside [32, argsz] (the kernel would send 0 there).
     */
    public int capOffset() {
        return !caps.isEmpty() || (flags & Vfio.REGION_INFO_FLAG_CAPS) != 0 ? SIZE : 0;
    }

    /** True when a reply's argsz asks for more than the payload carried (retry with a larger argsz). */
    public boolean truncated() {
        return ArgSz.unsigned(argsz) > encodedSize();
    }

    /** The first capability of the given type, or null. */
    public <C extends InfoCapability> C cap(Class<C> type) {
        for (InfoCapability c : caps) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    @Override
    public long encodedSize() {
        return SIZE + CapabilityChain.size(caps);
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        STRUCT.encode(d, this);
        CapabilityChain.write(d, SIZE, caps);
    }

    public static RegionInfo decode(MemorySegment p) throws ProtocolException {
        RegionInfo r = STRUCT.decode(p, List.of());
        List<InfoCapability> caps = new ArrayList<>();
        long capOffset = Wire.u32(p, OFF_CAP_OFFSET);
        // cap_offset at the very end: a chain announced but not carried (a truncated reply).
        if (capOffset != p.byteSize()) {
            for (CapabilityChain.Entry e : CapabilityChain.read(p, capOffset, SIZE, STRUCT.what())) {
                caps.add(decodeCap(e));
            }
        }
        return new RegionInfo(r.argsz, r.flags, r.index, r.size, r.offset, caps);
    }

    static InfoCapability decodeCap(CapabilityChain.Entry e) throws ProtocolException {
        if (e.version() == 1) {
            switch (e.id()) {
                case SparseMmapCap.ID:
                    return SparseMmapCap.decodeBody(e.body());
                case RegionTypeCap.ID:
                    return RegionTypeCap.decodeBody(e.body());
                case SparseMmapFdsCap.ID:
                    return SparseMmapFdsCap.decodeBody(e.body());
                default:
                    break;
            }
        }
        return RawCapability.of(e);
    }
}
