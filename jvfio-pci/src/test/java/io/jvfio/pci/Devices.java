package io.jvfio.pci;

/** Sample declarations shared by the tests. */
final class Devices {
    private Devices() {}

    static final int VENDOR = 0x494f;
    static final int DEVICE = 0x0dc8;
    static final byte[] VENDOR_DATA = {0x11, 0x22, 0x33, 0x44, 0x55};

    /** Everything the module models, in a 4 KiB space. */
    static ConfigSpaceBuilder full(ConfigSpace.Size size) {
        ConfigSpaceBuilder builder = minimal(size)
                .subsystemVendorId(0x1af4).subsystemId(0x1100)
                .classCode(0xff0000)
                .revision(7)
                .interruptPin(1)
                .bar(Bar.memory64(0, 1 << 20, true))
                .bar(Bar.memory32(2, 0x100))
                .bar(Bar.memory32(3, 0x4000))
                .bar(Bar.io(4, 0x20))
                .capability(Capabilities.powerManagement())
                .capability(Capabilities.msi(4, true, true))
                .capability(Capabilities.msix(8, 3, 0x0, 3, 0x800))
                .capability(Capabilities.pciExpress(PcieDeviceType.ENDPOINT, true))
                .capability(Capabilities.vendorSpecific(VENDOR_DATA));
        if (size == ConfigSpace.Size.PCIE) {
            builder.extendedCapability(ExtendedCapabilities.deviceSerialNumber(0x0123456789abcdefL))
                    .extendedCapability(ExtendedCapability.custom(PciCapabilityIds.EXT_VENDOR_SPECIFIC, 1,
                            new byte[] {1, 2, 3, 4, 5, 6}, new byte[] {0, 0, 0, 0, (byte) 0xFF, 0}));
        }
        return builder;
    }

    static ConfigSpace full() {
        return full(ConfigSpace.Size.PCIE).build();
    }

    static ConfigSpaceBuilder minimal(ConfigSpace.Size size) {
        return ConfigSpace.builder(size).vendorId(VENDOR).deviceId(DEVICE);
    }
}
