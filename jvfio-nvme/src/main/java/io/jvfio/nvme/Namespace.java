package io.jvfio.nvme;

/**
 * An active namespace as Identify Namespace (CNS 00h) describes it, in its formatted LBA format.
 *
 * @param sizeBlocks     NSZE, the namespace's size in logical blocks
 * @param capacityBlocks NCAP
 * @param blockSize      the logical block size in bytes (2^LBADS)
 * @param metadataSize   metadata bytes per block (MS); the driver moves no metadata
 * @param lbaFormat      the index of the format in use (FLBAS)
 */
public record Namespace(int nsid, long sizeBlocks, long capacityBlocks, long utilizationBlocks, int blockSize,
        int metadataSize, int lbaFormat) {

    public long sizeBytes() {
        return sizeBlocks * blockSize;
    }
}
