package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.ProtocolException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The legacy VFIO container, {@code /dev/vfio/vfio}: the IOMMU context that groups join
 * ({@link VfioGroup#setContainer}) and DMA mappings live in. After the first group joins,
 * {@link #setIommu} picks the IOMMU model (type1v2, or no-IOMMU); then {@link #iommuInfo} tells the
 * page sizes and IOVA ranges, and {@link #mapDma}/{@link #unmapDma} map process memory for every
 * device of the container's groups. The DMA structs have vfio-user's layouts ({@link DmaMap} with
 * {@code offset} as the process address, {@link DmaUnmap}), so they are encoded by those records.
 */
public final class VfioContainer implements AutoCloseable {
    /** Where vfio_iommu_type1_dma_unmap's size sits, which the kernel overwrites with the bytes unmapped. */
    static final long UNMAP_SIZE_FIELD = 16;

    private final Fd fd;
    private final String what;

    private VfioContainer(Fd fd, Path node) {
        this.fd = fd;
        this.what = "container " + node;
    }

    /** Opens the container at {@code node} and checks the API version. */
    public static VfioContainer open(Path node) throws KernelVfioException {
        Fd fd = Nodes.open(node, "no VFIO on this system (modprobe vfio-pci; the kernel needs CONFIG_VFIO_CONTAINER)");
        VfioContainer container = new VfioContainer(fd, node);
        try {
            int version = container.apiVersion();
            if (version != KernelUapi.VFIO_API_VERSION) {
                throw new KernelVfioException(Errno.EPROTO, container.what + ": VFIO API version " + version + ", expected "
                        + KernelUapi.VFIO_API_VERSION);
            }
        } catch (KernelVfioException | RuntimeException e) {
            fd.close();
            throw e;
        }
        return container;
    }

    public int apiVersion() throws KernelVfioException {
        return Ioctls.call(fd, KernelUapi.VFIO_GET_API_VERSION, 0, "VFIO_GET_API_VERSION", what);
    }

    /** Whether the container supports {@code extension} (an IOMMU model such as VFIO_TYPE1v2_IOMMU, or VFIO_UNMAP_ALL). */
    public boolean checkExtension(int extension) throws KernelVfioException {
        return Ioctls.call(fd, KernelUapi.VFIO_CHECK_EXTENSION, extension, "VFIO_CHECK_EXTENSION", what) > 0;
    }

    /** Picks the IOMMU model; needs a group joined first. */
    public void setIommu(int model) throws KernelVfioException {
        Ioctls.call(fd, KernelUapi.VFIO_SET_IOMMU, model, "VFIO_SET_IOMMU", what);
    }

    /** VFIO_IOMMU_GET_INFO, repeated once with the size the kernel asks for when the capabilities do not fit. */
    public Type1Info iommuInfo() throws KernelVfioException {
        int argsz = Type1Info.SIZE;
        for (int attempt = 0; ; attempt++) {
            MemorySegment info = Type1Info.request(argsz);
            Ioctls.call(fd, KernelUapi.VFIO_IOMMU_GET_INFO, info, "VFIO_IOMMU_GET_INFO", what);
            long needed = Type1Info.argsz(info);
            if (needed > argsz && attempt == 0 && needed < 1 << 20) {
                argsz = (int) needed;
                continue;
            }
            try {
                return Type1Info.decode(info);
            } catch (ProtocolException e) {
                throw new KernelVfioException(Errno.EPROTO, what + ": " + e.getMessage(), e);
            }
        }
    }

    /** Maps {@code size} bytes of this process at {@code vaddr} for the devices at {@code iova} (DMA_MAP_FLAG_READ/WRITE). */
    public void mapDma(long vaddr, long iova, long size, int flags) throws KernelVfioException {
        Ioctls.call(fd, KernelUapi.VFIO_IOMMU_MAP_DMA, DmaMap.of(flags, vaddr, iova, size).toSegment(),
                "VFIO_IOMMU_MAP_DMA", what);
    }

    /** Unmaps [iova, iova + size); returns the bytes the kernel unmapped. */
    public long unmapDma(long iova, long size) throws KernelVfioException {
        return unmap(DmaUnmap.of(iova, size));
    }

    /** Unmaps every mapping (needs the VFIO_UNMAP_ALL extension, Linux 5.12). */
    public long unmapAll() throws KernelVfioException {
        return unmap(DmaUnmap.all());
    }

    private long unmap(DmaUnmap request) throws KernelVfioException {
        MemorySegment unmap = request.toSegment();
        Ioctls.call(fd, KernelUapi.VFIO_IOMMU_UNMAP_DMA, unmap, "VFIO_IOMMU_UNMAP_DMA", what);
        return unmap.get(JAVA_LONG_UNALIGNED, UNMAP_SIZE_FIELD);
    }

    Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return what;
    }
}
