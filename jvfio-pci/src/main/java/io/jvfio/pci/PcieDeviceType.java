package io.jvfio.pci;

/** The device/port type field of the PCI Express capability, for the kinds of function a device model can be. */
public enum PcieDeviceType {
    ENDPOINT(0x0, true),
    LEGACY_ENDPOINT(0x1, true),
    /** Has no link of its own, so its link registers read 0. */
    ROOT_COMPLEX_INTEGRATED_ENDPOINT(0x9, false);

    private final int code;
    private final boolean hasLink;

    PcieDeviceType(int code, boolean hasLink) {
        this.code = code;
        this.hasLink = hasLink;
    }

    /** The 4-bit value in the capability's flags register. */
    public int code() {
        return code;
    }

    public boolean hasLink() {
        return hasLink;
    }
}
