package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * DEVICE_GET_INFO (4) request and reply: {@code argsz u32 @0, flags u32 @4, num_regions u32 @8,
 * num_irqs u32 @12} (16 bytes), and in the kernel's 24-byte form also {@code cap_offset u32 @16, pad u32 @20}
 * followed by a device-info capability chain ({@code hasCapOffset} selects the 24-byte form).
 *
 * <p>Build replies with {@link #reply}, which applies the argsz rule: if the full answer exceeds the argsz
 * offered, only the fixed part is sent (16 bytes, or 24 with cap_offset 0 when the offer allows) with argsz
 * set to the size needed. Device-info capabilities are decoded as {@link RawCapability} (the zPCI layouts are
 * not modelled yet).
 */
public record DeviceInfo(int argsz, int flags, int numRegions, int numIrqs, boolean hasCapOffset,
                         List<Capability> caps) implements Payload {
    public static final int SIZE = 16;
    public static final int SIZE_WITH_CAP_OFFSET = 24;

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
    public static DeviceInfo reply(long offeredArgsz, int flags, int numRegions, int numIrqs, List<? extends Capability> caps) {
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
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, flags);
        Wire.put32(d, 8, numRegions);
        Wire.put32(d, 12, numIrqs);
        if (hasCapOffset) {
            Wire.put32(d, 16, capOffset());
            Wire.put32(d, 20, 0);
            CapabilityChain.write(d, SIZE_WITH_CAP_OFFSET, caps);
        }
    }

    public static DeviceInfo decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DEVICE_GET_INFO");
        int argsz = Wire.i32(p, 0);
        Wire.argsz(ArgSz.unsigned(argsz), SIZE, "DEVICE_GET_INFO");
        boolean ext = p.byteSize() >= SIZE_WITH_CAP_OFFSET;
        List<Capability> caps = new ArrayList<>();
        if (ext) {
            for (CapabilityChain.Entry e : CapabilityChain.read(p, Wire.u32(p, 16), SIZE_WITH_CAP_OFFSET, "DEVICE_GET_INFO")) {
                caps.add(RawCapability.of(e));
            }
        }
        return new DeviceInfo(argsz, Wire.i32(p, 4), Wire.i32(p, 8), Wire.i32(p, 12), ext, caps);
    }
}
