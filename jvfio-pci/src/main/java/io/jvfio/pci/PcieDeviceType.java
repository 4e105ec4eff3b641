package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.PciExpress;

/** The device/port type field of the PCI Express capability, for the kinds of function a device model can be. */
public enum PcieDeviceType {
    ENDPOINT(PciExpress.TYPE_ENDPOINT, true),
    LEGACY_ENDPOINT(PciExpress.TYPE_LEGACY_ENDPOINT, true),
    /** Has no link of its own, so its link registers read 0. */
    ROOT_COMPLEX_INTEGRATED_ENDPOINT(PciExpress.TYPE_ROOT_COMPLEX_INTEGRATED_ENDPOINT, false);

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
