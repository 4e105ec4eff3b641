package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.DeviceSerialNumber;

/** Factories for the PCI Express extended capabilities this module models. */
public final class ExtendedCapabilities {
    private ExtendedCapabilities() {}

    /** Device Serial Number (id 3, version 1): a read-only 64-bit EUI-64. */
    public static ExtendedCapability deviceSerialNumber(long serialNumber) {
        RegisterImage image = new RegisterImage(DeviceSerialNumber.SIZE)
                .value(DeviceSerialNumber.SERIAL_LO, 4, serialNumber)
                .value(DeviceSerialNumber.SERIAL_HI, 4, serialNumber >>> 32);
        return new ExtendedCapability(PciCapabilityIds.EXT_DEVICE_SERIAL_NUMBER, DeviceSerialNumber.VERSION, image);
    }
}
