package io.jvfio.nvme;

import static io.jvfio.nvme.spec.Nvme.MPS_BASE_SHIFT;
import static io.jvfio.nvme.spec.Nvme.SGL_DESCRIPTOR_SIZE;

/**
 * The memory page the driver chooses (CC.MPS 0: 4 KiB, which every controller offers and Linux
 * uses too) and what one such page holds: PRP entries, SGL descriptors. The driver's own numbers;
 * the specification's are {@link io.jvfio.nvme.spec.Nvme}'s.
 */
final class DriverPages {
    /** The CC.MPS the driver sets. */
    static final int MPS = 0;
    static final int PAGE_SHIFT = MPS_BASE_SHIFT + MPS, PAGE_SIZE = 1 << PAGE_SHIFT;
    static final int PRP_ENTRIES_PER_PAGE = PAGE_SIZE / Long.BYTES;
    static final int SGL_DESCRIPTORS_PER_PAGE = PAGE_SIZE / SGL_DESCRIPTOR_SIZE;

    private DriverPages() {}
}
