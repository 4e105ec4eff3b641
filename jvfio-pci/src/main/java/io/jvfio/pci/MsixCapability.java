package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.Msix;

/**
 * The MSI-X capability's registers, read at one instant.
 *
 * @param offset         config space offset of the capability
 * @param tableSize      number of table entries (vectors)
 * @param tableBar       BAR holding the table
 * @param tableOffset    table's offset in that BAR
 * @param pbaBar         BAR holding the pending bit array
 * @param pbaOffset      PBA's offset in that BAR
 * @param enabled        MSI-X Enable
 * @param functionMasked Function Mask: every vector masked regardless of its own mask bit
 */
public record MsixCapability(
        int offset,
        int tableSize,
        int tableBar,
        long tableOffset,
        int pbaBar,
        long pbaOffset,
        boolean enabled,
        boolean functionMasked) {

    public int tableBytes() {
        return tableSize * Msix.ENTRY_SIZE;
    }

    public int pbaBytes() {
        return MsixTable.pbaBytes(tableSize);
    }
}
