package io.jvfio.nvme;

/**
 * What Identify Controller (CNS 01h) says about the controller, decoded.
 *
 * @param maxTransferBytes the largest transfer one command may move (MDTS), 0 when the controller sets no limit
 * @param version          VER: major in bits 31:16, minor 15:8, tertiary 7:0
 * @param oacs             Optional Admin Command Support bits
 * @param oncs             Optional NVM Command Support bits (2: Dataset Management, 3: Write Zeroes)
 * @param sgls             SGL Support: bits 1:0 say whether NVM commands take SGLs, and with what alignment
 * @param namespaceCount   NN: the highest namespace identifier
 */
public record ControllerIdentity(int vendorId, int subsystemVendorId, String serial, String model, String firmware,
        int controllerId, int version, int mdts, long maxTransferBytes, int oacs, int oncs, int namespaceCount,
        boolean volatileWriteCache, int sgls, String subsystemNqn) {

    public boolean supportsWriteZeroes() {
        return (oncs & NvmeSpec.ONCS_WRITE_ZEROES) != 0;
    }

    public boolean supportsDatasetManagement() {
        return (oncs & NvmeSpec.ONCS_DATASET_MANAGEMENT) != 0;
    }

    /** OACS bit 8: the controller takes Doorbell Buffer Config (shadow doorbells). */
    public boolean supportsShadowDoorbells() {
        return (oacs & NvmeSpec.OACS_DOORBELL_BUFFER_CONFIG) != 0;
    }

    /** SGLS bits 1:0 not 00b: NVM commands may describe their data with SGLs. */
    public boolean supportsSgls() {
        return (sgls & NvmeSpec.SGLS_SUPPORT_MASK) != 0;
    }

    /** SGLS bits 1:0 = 10b: SGL data blocks must start at a dword and hold whole dwords. */
    public boolean sglsNeedDwordAlignment() {
        return (sgls & NvmeSpec.SGLS_SUPPORT_MASK) == NvmeSpec.SGLS_DWORD_ALIGNED;
    }

    /** "1.4.0" for VER 00010400h. */
    public String versionString() {
        return "%d.%d.%d".formatted(version >>> 16, version >>> 8 & 0xff, version & 0xff);
    }
}
