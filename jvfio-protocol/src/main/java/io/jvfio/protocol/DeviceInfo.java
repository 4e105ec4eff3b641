package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u32;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * DEVICE_GET_INFO (4) request and reply: {@code argsz u32, flags u32, num_regions u32, num_irqs u32}
 * (16 bytes), and in the kernel's 24-byte form also {@code cap_offset u32, pad u32} followed by a device-info
 * capability chain ({@code hasCapOffset} selects the 24-byte form).
 *
 * <p>Build replies with {@link #reply}, which applies the argsz rule: if the full answer exceeds the argsz
 * offered, only the fixed part is sent (16 bytes, or 24 with cap_offset 0 when the offer allows) with argsz
 * set to the size needed. Device-info capabilities are decoded as {@link RawCapability} (the zPCI layouts are
 * not modelled yet).
 */
public record DeviceInfo(int argsz, int flags, int numRegions, int numIrqs, boolean hasCapOffset,
                         List<InfoCapability> caps) implements Payload {
    static final Struct<DeviceInfo> STRUCT = Struct.of(DeviceInfo.class, "DEVICE_GET_INFO", u32("argsz"), u32("flags"),
            u32("numRegions"), u32("numIrqs"), u32("capOffset"), Struct.reserved(4));
    public static final int SIZE = (int) STRUCT.offset("capOffset");
    public static final int SIZE_WITH_CAP_OFFSET = STRUCT.size();

    public DeviceInfo {
        caps = List.copyOf(caps);
        if (!caps.isEmpty() && !hasCapOffset) {
            throw new IllegalArgumentException("capabilities need the 24-byte form (hasCapOffset)");
        }
    }

    /** A request offering {@code argsz} bytes for the reply (16 for the plain vfio-user struct). */
    public static DeviceInfo request(int argsz) {
        return new DeviceInfo(argsz, 0, 0, 0, false, List.of());
    }

    /** A reply that never exceeds {@code offeredArgsz}; sets {@link Vfio#DEVICE_FLAGS_CAPS} when caps exist. */
    public static DeviceInfo reply(long offeredArgsz, int flags, int numRegions, int numIrqs, List<? extends InfoCapability> caps) {
        if (caps.isEmpty()) {
            return new DeviceInfo(SIZE, flags, numRegions, numIrqs, false, List.of());
        }
        long full = SIZE_WITH_CAP_OFFSET + CapabilityChain.size(caps);
        Wire.checkU32(full, "DEVICE_GET_INFO reply size");
        int f = flags | Vfio.DEVICE_FLAGS_CAPS;
        if (ArgSz.fits(full, offeredArgsz)) {
            return new DeviceInfo((int) full, f, numRegions, numIrqs, true, List.copyOf(caps));
        }
        return new DeviceInfo((int) full, f, numRegions, numIrqs, offeredArgsz >= SIZE_WITH_CAP_OFFSET, List.of());
    }

    /** Offset of the first capability (relative to this struct), or 0. */
    public int capOffset() {
        return caps.isEmpty() ? 0 : SIZE_WITH_CAP_OFFSET;
    }

    /** True when a reply's argsz asks for more than the payload carried (retry with a larger argsz). */
    public boolean truncated() {
        return ArgSz.unsigned(argsz) > encodedSize();
    }

    @Override
    public long encodedSize() {
        return hasCapOffset ? SIZE_WITH_CAP_OFFSET + CapabilityChain.size(caps) : SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        STRUCT.write(d, this, hasCapOffset ? SIZE_WITH_CAP_OFFSET : SIZE);
        CapabilityChain.write(d, SIZE_WITH_CAP_OFFSET, caps);
    }

    public static DeviceInfo decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, STRUCT.what());
        DeviceInfo d = STRUCT.read(p, SIZE, false, List.of());
        Wire.argsz(ArgSz.unsigned(d.argsz), SIZE, STRUCT.what());
        boolean ext = p.byteSize() >= SIZE_WITH_CAP_OFFSET;
        List<InfoCapability> caps = new ArrayList<>();
        if (ext) {
            long capOffset = Wire.u32(p, SIZE);
            for (CapabilityChain.Entry e : CapabilityChain.read(p, capOffset, SIZE_WITH_CAP_OFFSET, STRUCT.what())) {
                caps.add(RawCapability.of(e));
            }
        }
        return new DeviceInfo(d.argsz, d.flags, d.numRegions, d.numIrqs, ext, caps);
    }
}
