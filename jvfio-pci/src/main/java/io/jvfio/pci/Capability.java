package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.CapabilityHeader;

/**
 * A standard capability ready to be placed in config space: its id and its registers. The id and
 * next-pointer bytes are filled in when {@link ConfigSpaceBuilder#build()} links the list. Make
 * them with {@link Capabilities}, or {@link #custom} for one this module does not model.
 */
public final class Capability {
    private final int id;
    private final RegisterImage image;

    Capability(int id, RegisterImage image) {
        if (id <= 0 || id > PciCapabilityIds.MAX_STANDARD) {
            throw new IllegalArgumentException("capability id 0x" + Integer.toHexString(id) + " is outside 0x01-0xff");
        }
        if (image.length() < CapabilityHeader.SIZE) {
            throw new IllegalArgumentException("a capability is at least its 2-byte header");
        }
        this.id = id;
        this.image = image;
    }

    /**
     * A capability with arbitrary registers after the 2-byte header.
     *
     * @param body         power-on values of the bytes from offset 2
     * @param writableMask per byte of {@code body}, the bits a guest may change
     */
    public static Capability custom(int id, byte[] body, byte[] writableMask) {
        if (body.length != writableMask.length) {
            throw new IllegalArgumentException("body is " + body.length + " bytes but its mask is " + writableMask.length);
        }
        RegisterImage image = new RegisterImage(CapabilityHeader.SIZE + body.length);
        System.arraycopy(body, 0, image.values, CapabilityHeader.SIZE, body.length);
        System.arraycopy(writableMask, 0, image.writable, CapabilityHeader.SIZE, body.length);
        return new Capability(id, image);
    }

    public int id() {
        return id;
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
        return "Capability[id=0x" + Integer.toHexString(id) + ", length=" + length() + "]";
    }
}
