package io.jvfio.client.kernel;

import java.util.List;

/**
 * Where a kernel device's DMA mappings go: a type1 container, an iommufd I/O address space, or —
 * in no-IOMMU mode — nowhere, the device using physical addresses. Owns what it maps through
 * (the container, or the iommufd), closed with it.
 */
interface DmaSpace extends AutoCloseable {
    /** The IOVA windows the IOMMU allows (as read when the device was attached). */
    List<IovaRange> ranges();

    /** Maps {@code size} bytes of this process at {@code vaddr} at {@code iova} (DMA_MAP_FLAG_READ/WRITE). */
    void map(long vaddr, long iova, long size, int flags) throws KernelVfioException;

    void unmap(long iova, long size) throws KernelVfioException;

    /** Which userspace interface the space is reached through (no-IOMMU: the legacy container). */
    KernelOptions.Backend backend();

    /** True without an IOMMU: nothing is mapped, the device sees physical addresses. */
    default boolean physical() {
        return false;
    }

    @Override
    void close();

    /** A type1 container's space (its IOVA ranges read now). */
    static DmaSpace type1(VfioContainer container) throws KernelVfioException {
        List<IovaRange> ranges = container.iommuInfo().ranges();
        return new DmaSpace() {
            public List<IovaRange> ranges() {
                return ranges;
            }

            public void map(long vaddr, long iova, long size, int flags) throws KernelVfioException {
                container.mapDma(vaddr, iova, size, flags);
            }

            public void unmap(long iova, long size) throws KernelVfioException {
                container.unmapDma(iova, size);
            }

            public KernelOptions.Backend backend() {
                return KernelOptions.Backend.LEGACY;
            }

            public void close() {
                container.close();
            }

            public String toString() {
                return "type1v2 " + container;
            }
        };
    }

    /** An iommufd IOAS (its IOVA ranges read now, after the device attached). */
    static DmaSpace ioas(Iommufd iommufd, int ioas) throws KernelVfioException {
        List<IovaRange> ranges = iommufd.iovaRanges(ioas);
        return new DmaSpace() {
            public List<IovaRange> ranges() {
                return ranges;
            }

            public void map(long vaddr, long iova, long size, int flags) throws KernelVfioException {
                iommufd.map(ioas, vaddr, iova, size, flags, true);
            }

            public void unmap(long iova, long size) throws KernelVfioException {
                iommufd.unmap(ioas, iova, size);
            }

            public KernelOptions.Backend backend() {
                return KernelOptions.Backend.IOMMUFD;
            }

            public void close() {
                iommufd.close();
            }

            public String toString() {
                return iommufd + " IOAS " + ioas;
            }
        };
    }

    /** No IOMMU: the container (kept for the group's sake) maps nothing; IOVAs are physical addresses. */
    static DmaSpace noIommu(VfioContainer container) {
        List<IovaRange> everything = List.of(new IovaRange(0, -1L));
        return new DmaSpace() {
            public List<IovaRange> ranges() {
                return everything;
            }

            public void map(long vaddr, long iova, long size, int flags) {
                // nothing to map: the device reaches physical memory directly
            }

            public void unmap(long iova, long size) {
            }

            public KernelOptions.Backend backend() {
                return KernelOptions.Backend.LEGACY;
            }

            public boolean physical() {
                return true;
            }

            public void close() {
                container.close();
            }

            public String toString() {
                return "no-IOMMU " + container;
            }
        };
    }
}
