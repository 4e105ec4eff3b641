package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.ExtendedCapabilityHeader;

/**
 * A PCI Express extended capability ready to be placed from 0x100: id, version and registers. The
 * header dword is filled in when the chain is linked. Make them with {@link ExtendedCapabilities}.
 */
public final class ExtendedCapability {
    private final int id;
    private final int version;
    private final RegisterImage image;

    ExtendedCapability(int id, int version, RegisterImage image) {
        if (id <= 0 || id > PciCapabilityIds.MAX_EXTENDED) {
            throw new IllegalArgumentException("extended capability id 0x" + Integer.toHexString(id) + " is outside 0x0001-0xffff");
        }
        if (version < 0 || version > ExtendedCapabilityHeader.VERSION_MASK) {
            throw new IllegalArgumentException("extended capability version " + version + " does not fit 4 bits");
        }
        if (image.length() < ExtendedCapabilityHeader.SIZE) {
            throw new IllegalArgumentException("an extended capability is at least its 4-byte header");
        }
        this.id = id;
        this.version = version;
        this.image = image;
    }

    /**
     * An extended capability with arbitrary registers after the 4-byte header.
     *
     * @param body         power-on values of the bytes from offset 4
     * @param writableMask per byte of {@code body}, the bits a guest may change
     */
    public static ExtendedCapability custom(int id, int version, byte[] body, byte[] writableMask) {
        if (body.length != writableMask.length) {
            throw new IllegalArgumentException("body is " + body.length + " bytes but its mask is " + writableMask.length);
        }
        RegisterImage image = new RegisterImage(ExtendedCapabilityHeader.SIZE + body.length);
        System.arraycopy(body, 0, image.values, ExtendedCapabilityHeader.SIZE, body.length);
        System.arraycopy(writableMask, 0, image.writable, ExtendedCapabilityHeader.SIZE, body.length);
        return new ExtendedCapability(id, version, image);
    }

    public int id() {
        return id;
    }

    public int version() {
        return version;
    }

    /** Bytes the capability occupies, header included. */
    public int length() {
        return image.length();
    }

    RegisterImage image() {
        return image;
    }

    @Override
    public String toString() {
        return "ExtendedCapability[id=0x" + Integer.toHexString(id) + ", version=" + version + ", length=" + length() + "]";
    }
}
