package io.jvfio.pci;

/**
 * The MSI capability's registers as the guest last programmed them, read at one instant.
 *
 * @param offset           config space offset of the capability
 * @param enabled          MSI Enable
 * @param vectorsCapable   vectors the device asks for (a power of two)
 * @param vectorsEnabled   vectors the guest granted (Multiple Message Enable, as a count)
 * @param is64Bit          whether the message address has an upper dword
 * @param perVectorMasking whether mask and pending bits exist
 * @param address          message address
 * @param data             message data (16 bits); vector {@code n} sends {@link #dataFor(int)}
 * @param maskBits         Mask Bits register (0 without per-vector masking)
 * @param pendingBits      Pending Bits register (0 without per-vector masking)
 */
public record MsiState(
        int offset,
        boolean enabled,
        int vectorsCapable,
        int vectorsEnabled,
        boolean is64Bit,
        boolean perVectorMasking,
        long address,
        int data,
        int maskBits,
        int pendingBits) {

    public boolean isMasked(int vector) {
        checkVector(vector);
        return (maskBits & (1 << vector)) != 0;
    }

    public boolean isPending(int vector) {
        checkVector(vector);
        return (pendingBits & (1 << vector)) != 0;
    }

    /** The data word vector {@code vector} sends: the vector number replaces the low bits the guest left free. */
    public int dataFor(int vector) {
        if (vector < 0 || vector >= vectorsEnabled) {
            throw new IllegalArgumentException("MSI vector " + vector + " is not among the " + vectorsEnabled + " enabled");
        }
        return (data & ~(vectorsEnabled - 1)) | vector;
    }

    private void checkVector(int vector) {
        if (vector < 0 || vector >= vectorsCapable) {
            throw new IllegalArgumentException("MSI vector " + vector + " is outside 0-" + (vectorsCapable - 1));
        }
    }
}
