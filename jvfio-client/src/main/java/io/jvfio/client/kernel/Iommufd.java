package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code /dev/iommu} (Linux 6.6 and later with the device cdevs): I/O address spaces (IOAS) that
 * devices attach to ({@link #bind}, {@link #attach} on the device's cdev fd), and the mappings of
 * process memory in them, at a fixed IOVA or one the kernel picks. iommufd's structs begin with
 * their {@code size}; each layout is declared once here.
 */
public final class Iommufd implements AutoCloseable {
    static final StructLayout IOAS_ALLOC = MemoryLayout.structLayout(u32("size"), u32("flags"), u32("out_ioas_id"));
    static final StructLayout IOAS_IOVA_RANGES = MemoryLayout.structLayout(u32("size"), u32("ioas_id"), u32("num_iovas"),
            u32("__reserved"), u64("allowed_iovas"), u64("out_iova_alignment"));
    static final StructLayout IOAS_MAP = MemoryLayout.structLayout(u32("size"), u32("flags"), u32("ioas_id"),
            u32("__reserved"), u64("user_va"), u64("length"), u64("iova"));
    static final StructLayout IOAS_UNMAP = MemoryLayout.structLayout(u32("size"), u32("ioas_id"), u64("iova"), u64("length"));
    static final StructLayout DESTROY = MemoryLayout.structLayout(u32("size"), u32("id"));
    /** struct vfio_device_bind_iommufd up to out_devid (the kernel's minimum; token_uuid_ptr came later). */
    static final StructLayout BIND = MemoryLayout.structLayout(u32("argsz"), u32("flags"), u32("iommufd"), u32("out_devid"));
    /** struct vfio_device_attach_iommufd_pt up to pt_id (the kernel's minimum; pasid came later). */
    static final StructLayout ATTACH = MemoryLayout.structLayout(u32("argsz"), u32("flags"), u32("pt_id"));
    /** struct iommu_iova_range: start, last. */
    static final int IOVA_RANGE_SIZE = 16;

    private final Fd fd;
    private final String what;

    private Iommufd(Fd fd, Path node) {
        this.fd = fd;
        this.what = "iommufd " + node;
    }

    public static Iommufd open(Path node) throws KernelVfioException {
        return new Iommufd(Nodes.open(node, "no iommufd (the kernel needs CONFIG_IOMMUFD; modprobe iommufd)"), node);
    }

    /** A new, empty I/O address space; returns its id. */
    public int allocateIoas() throws KernelVfioException {
        MemorySegment alloc = struct(IOAS_ALLOC);
        Ioctls.call(fd, KernelUapi.IOMMU_IOAS_ALLOC, alloc, "IOMMU_IOAS_ALLOC", what);
        return get32(alloc, IOAS_ALLOC, "out_ioas_id");
    }

    /** The IOVA ranges the IOAS allows now (they narrow as devices attach); asks again while the kernel has more. */
    public List<IovaRange> iovaRanges(int ioas) throws KernelVfioException {
        int capacity = 8;
        for (int attempt = 0; attempt < 4; attempt++) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment ranges = arena.allocate((long) capacity * IOVA_RANGE_SIZE, 8);
                MemorySegment request = struct(IOAS_IOVA_RANGES);
                set32(request, IOAS_IOVA_RANGES, "ioas_id", ioas);
                set32(request, IOAS_IOVA_RANGES, "num_iovas", capacity);
                request.set(JAVA_LONG_UNALIGNED, Ioctls.offset(IOAS_IOVA_RANGES, "allowed_iovas"), ranges.address());
                try {
                    Ioctls.call(fd, KernelUapi.IOMMU_IOAS_IOVA_RANGES, request, "IOMMU_IOAS_IOVA_RANGES", what);
                } catch (KernelVfioException e) {
                    if (e.errno() == Errno.EMSGSIZE) {
                        capacity = Math.max(capacity * 2, get32(request, IOAS_IOVA_RANGES, "num_iovas"));
                        continue;
                    }
                    throw e;
                }
                int n = get32(request, IOAS_IOVA_RANGES, "num_iovas");
                List<IovaRange> out = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    out.add(new IovaRange(ranges.get(JAVA_LONG_UNALIGNED, (long) i * IOVA_RANGE_SIZE),
                            ranges.get(JAVA_LONG_UNALIGNED, (long) i * IOVA_RANGE_SIZE + 8)));
                }
                return out;
            }
        }
        throw new KernelVfioException(Errno.EMSGSIZE, what + ": the IOVA ranges keep growing");
    }

    /**
     * Maps {@code length} bytes of this process at {@code vaddr} into the IOAS: at {@code iova} when
     * {@code fixed}, else where the kernel chooses; returns the IOVA. {@code flags}: DMA_MAP_FLAG_READ/WRITE.
     */
    public long map(int ioas, long vaddr, long iova, long length, int flags, boolean fixed) throws KernelVfioException {
        MemorySegment map = struct(IOAS_MAP);
        int access = ((flags & io.jvfio.protocol.Vfio.DMA_MAP_FLAG_READ) != 0 ? KernelUapi.IOMMU_IOAS_MAP_READABLE : 0)
                | ((flags & io.jvfio.protocol.Vfio.DMA_MAP_FLAG_WRITE) != 0 ? KernelUapi.IOMMU_IOAS_MAP_WRITEABLE : 0);
        set32(map, IOAS_MAP, "flags", access | (fixed ? KernelUapi.IOMMU_IOAS_MAP_FIXED_IOVA : 0));
        set32(map, IOAS_MAP, "ioas_id", ioas);
        set64(map, IOAS_MAP, "user_va", vaddr);
        set64(map, IOAS_MAP, "length", length);
        set64(map, IOAS_MAP, "iova", fixed ? iova : 0);
        Ioctls.call(fd, KernelUapi.IOMMU_IOAS_MAP, map, "IOMMU_IOAS_MAP", what);
        return map.get(JAVA_LONG_UNALIGNED, Ioctls.offset(IOAS_MAP, "iova"));
    }

    /** Unmaps [iova, iova + length), which must cover whole mappings; returns the bytes unmapped. (0, -1) unmaps all. */
    public long unmap(int ioas, long iova, long length) throws KernelVfioException {
        MemorySegment unmap = struct(IOAS_UNMAP);
        set32(unmap, IOAS_UNMAP, "ioas_id", ioas);
        set64(unmap, IOAS_UNMAP, "iova", iova);
        set64(unmap, IOAS_UNMAP, "length", length);
        Ioctls.call(fd, KernelUapi.IOMMU_IOAS_UNMAP, unmap, "IOMMU_IOAS_UNMAP", what);
        return unmap.get(JAVA_LONG_UNALIGNED, Ioctls.offset(IOAS_UNMAP, "length"));
    }

    /** Destroys an object (an IOAS) by id. */
    public void destroy(int id) throws KernelVfioException {
        MemorySegment destroy = struct(DESTROY);
        set32(destroy, DESTROY, "id", id);
        Ioctls.call(fd, KernelUapi.IOMMU_DESTROY, destroy, "IOMMU_DESTROY", what);
    }

    /** Binds a device cdev fd to this iommufd (VFIO_DEVICE_BIND_IOMMUFD); returns the device's id. */
    public int bind(Fd device, String deviceName) throws KernelVfioException {
        MemorySegment bind = struct(BIND);
        set32(bind, BIND, "argsz", (int) BIND.byteSize());
        set32(bind, BIND, "iommufd", fd.value());
        Ioctls.call(device, KernelUapi.VFIO_DEVICE_BIND_IOMMUFD, bind, "VFIO_DEVICE_BIND_IOMMUFD", deviceName);
        return get32(bind, BIND, "out_devid");
    }

    /** Attaches a bound device to the IOAS (or another page table) {@code ptId}. */
    public static void attach(Fd device, int ptId, String deviceName) throws KernelVfioException {
        MemorySegment attach = struct(ATTACH);
        set32(attach, ATTACH, "argsz", (int) ATTACH.byteSize());
        set32(attach, ATTACH, "pt_id", ptId);
        Ioctls.call(device, KernelUapi.VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", deviceName);
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return what;
    }

    // ---------------------------------------------------------------- struct access

    private static MemoryLayout u32(String name) {
        return JAVA_INT_UNALIGNED.withName(name);
    }

    private static MemoryLayout u64(String name) {
        return JAVA_LONG_UNALIGNED.withName(name);
    }

    /** A zeroed struct; iommufd's begin with their size (VFIO's with argsz, which the caller sets). */
    private static MemorySegment struct(StructLayout layout) {
        MemorySegment s = MemorySegment.ofArray(new byte[(int) layout.byteSize()]);
        s.set(JAVA_INT_UNALIGNED, 0, (int) layout.byteSize());
        return s;
    }

    private static void set32(MemorySegment s, StructLayout layout, String field, int value) {
        s.set(JAVA_INT_UNALIGNED, Ioctls.offset(layout, field), value);
    }

    private static void set64(MemorySegment s, StructLayout layout, String field, long value) {
        s.set(JAVA_LONG_UNALIGNED, Ioctls.offset(layout, field), value);
    }

    private static int get32(MemorySegment s, StructLayout layout, String field) {
        return s.get(JAVA_INT_UNALIGNED, Ioctls.offset(layout, field));
    }
}
