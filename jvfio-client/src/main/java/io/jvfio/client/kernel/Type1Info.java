package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.CapabilityChain;
import io.jvfio.protocol.ProtocolException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * VFIO_IOMMU_GET_INFO of a type1 container: {@code struct vfio_iommu_type1_info} (argsz, flags,
 * iova_pgsizes, cap_offset) and its capability chain, read with the same {@link CapabilityChain} as
 * the device's: the IOVA ranges (id 1: nr_iovas, then {start, end}) and the DMA mappings still
 * available (id 3). Without an IOVA-range capability (kernels before 5.4) the whole space is allowed.
 */
public record Type1Info(int flags, long pageSizes, List<IovaRange> ranges, OptionalInt dmaMappingsAvailable) {
    static final StructLayout STRUCT = MemoryLayout.structLayout(JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"), JAVA_LONG_UNALIGNED.withName("iova_pgsizes"),
            JAVA_INT_UNALIGNED.withName("cap_offset"), MemoryLayout.paddingLayout(4));
    static final int SIZE = (int) STRUCT.byteSize();
    static final long ARGSZ = Ioctls.offset(STRUCT, "argsz"), FLAGS = Ioctls.offset(STRUCT, "flags"),
            PGSIZES = Ioctls.offset(STRUCT, "iova_pgsizes"), CAP_OFFSET = Ioctls.offset(STRUCT, "cap_offset");
    /** In the IOVA-range capability's body: nr_iovas, reserved, then the ranges of 16 bytes. */
    static final int RANGES_COUNT = 0, RANGES = 8, RANGE_SIZE = 16;
    private static final List<IovaRange> EVERYTHING = List.of(new IovaRange(0, -1L));

    public Type1Info {
        ranges = List.copyOf(ranges);
    }

    /** A request offering {@code argsz} bytes. */
    static MemorySegment request(int argsz) {
        MemorySegment s = MemorySegment.ofArray(new byte[argsz]);
        s.set(JAVA_INT_UNALIGNED, ARGSZ, argsz);
        return s;
    }

    /** The size the kernel asks for in its answer (more than offered: ask again). */
    static long argsz(MemorySegment reply) {
        return Integer.toUnsignedLong(reply.get(JAVA_INT_UNALIGNED, ARGSZ));
    }

    static Type1Info decode(MemorySegment reply) throws ProtocolException {
        if (reply.byteSize() < SIZE) {
            throw new ProtocolException(Errno.EINVAL, "VFIO_IOMMU_GET_INFO: " + reply.byteSize() + " bytes, needs " + SIZE);
        }
        int flags = reply.get(JAVA_INT_UNALIGNED, FLAGS);
        long capOffset = (flags & KernelUapi.VFIO_IOMMU_INFO_CAPS) == 0 ? 0
                : Integer.toUnsignedLong(reply.get(JAVA_INT_UNALIGNED, CAP_OFFSET));
        List<IovaRange> ranges = EVERYTHING;
        OptionalInt available = OptionalInt.empty();
        for (CapabilityChain.Entry e : CapabilityChain.read(reply, capOffset, SIZE, "VFIO_IOMMU_GET_INFO")) {
            MemorySegment body = e.body();
            if (e.id() == KernelUapi.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE && body.byteSize() >= RANGES) {
                long n = Integer.toUnsignedLong(body.get(JAVA_INT_UNALIGNED, RANGES_COUNT));
                if (body.byteSize() < RANGES + n * RANGE_SIZE) {
                    throw new ProtocolException(Errno.EINVAL, "VFIO_IOMMU_GET_INFO: " + n + " IOVA ranges do not fit the capability");
                }
                List<IovaRange> found = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    long at = RANGES + i * RANGE_SIZE;
                    found.add(new IovaRange(body.get(JAVA_LONG_UNALIGNED, at), body.get(JAVA_LONG_UNALIGNED, at + 8)));
                }
                ranges = found;
            } else if (e.id() == KernelUapi.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL && body.byteSize() >= 4) {
                available = OptionalInt.of(body.get(JAVA_INT_UNALIGNED, 0));
            }
        }
        long pageSizes = (flags & KernelUapi.VFIO_IOMMU_INFO_PGSIZES) != 0 ? reply.get(JAVA_LONG_UNALIGNED, PGSIZES) : 0;
        return new Type1Info(flags, pageSizes, ranges, available);
    }
}
