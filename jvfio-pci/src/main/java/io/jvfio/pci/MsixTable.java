package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.Msix;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The MSI-X table and pending bit array behind a memory BAR: what a BAR region handler serves at
 * the offsets the MSI-X capability names. Offsets here are relative to the table's (or PBA's)
 * start. Accesses of 1, 2, 4 or 8 bytes, little-endian; the guest cannot write the PBA.
 *
 * <p>Masking here is per vector only; a vector also stays quiet while the capability's Function
 * Mask is set or MSI-X is disabled (see {@link ConfigSpace#msix()}).
 */
public final class MsixTable {
    private static final int ADDRESS_LO_RESERVED = 0x3;

    private final int tableSize;
    private final byte[] table;
    private final byte[] pba;
    private final ReentrantLock lock = new ReentrantLock();

    public MsixTable(int tableSize) {
        if (tableSize < 1 || tableSize > Msix.MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X table size " + tableSize + " is outside 1-" + Msix.MAX_VECTORS);
        }
        this.tableSize = tableSize;
        this.table = new byte[tableSize * Msix.ENTRY_SIZE];
        this.pba = new byte[pbaBytes(tableSize)];
        reset();
    }

    /** A table sized for the capability. */
    public static MsixTable of(MsixCapability capability) {
        return new MsixTable(capability.tableSize());
    }

    /** PBA bytes for {@code tableSize} vectors: one bit each, in whole qwords. */
    public static int pbaBytes(int tableSize) {
        return (tableSize + 63) / 64 * Msix.PBA_ENTRY_SIZE;
    }

    public int tableSize() {
        return tableSize;
    }

    public int tableBytes() {
        return table.length;
    }

    public int pbaBytes() {
        return pba.length;
    }

    /** Back to power-on: every entry zero and masked, nothing pending. */
    public void reset() {
        lock.lock();
        try {
            java.util.Arrays.fill(table, (byte) 0);
            java.util.Arrays.fill(pba, (byte) 0);
            for (int vector = 0; vector < tableSize; vector++) {
                table[vector * Msix.ENTRY_SIZE + Msix.ENTRY_VECTOR_CONTROL] = Msix.ENTRY_VECTOR_CONTROL_MASKED;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Reads {@code size} (1, 2, 4 or 8) bytes of the table at {@code offset}, zero-extended. */
    public long read(int offset, int size) {
        checkAccess("table", offset, size, table.length);
        lock.lock();
        try {
            return get(table, offset, size);
        } finally {
            lock.unlock();
        }
    }

    /** Writes the low {@code size} (1, 2, 4 or 8) bytes of {@code value}; reserved bits stay as they are. */
    public void write(int offset, int size, long value) {
        checkAccess("table", offset, size, table.length);
        lock.lock();
        try {
            for (int i = 0; i < size; i++) {
                int position = offset + i;
                int mask = writableBits(position % Msix.ENTRY_SIZE);
                int written = (int) (value >>> (8 * i)) & 0xFF;
                table[position] = (byte) ((table[position] & ~mask) | (written & mask));
            }
        } finally {
            lock.unlock();
        }
    }

    private static int writableBits(int offsetInEntry) {
        if (offsetInEntry == Msix.ENTRY_ADDRESS_LO) {
            return 0xFF & ~ADDRESS_LO_RESERVED;
        }
        if (offsetInEntry < Msix.ENTRY_VECTOR_CONTROL) {
            return 0xFF;
        }
        return offsetInEntry == Msix.ENTRY_VECTOR_CONTROL ? Msix.ENTRY_VECTOR_CONTROL_MASKED : 0;
    }

    /** Reads {@code size} (1, 2, 4 or 8) bytes of the pending bit array at {@code offset}. */
    public long readPba(int offset, int size) {
        checkAccess("PBA", offset, size, pba.length);
        lock.lock();
        try {
            return get(pba, offset, size);
        } finally {
            lock.unlock();
        }
    }

    public boolean isMasked(int vector) {
        int control = entryRegister(vector, Msix.ENTRY_VECTOR_CONTROL);
        return (control & Msix.ENTRY_VECTOR_CONTROL_MASKED) != 0;
    }

    public long messageAddress(int vector) {
        checkVector(vector);
        lock.lock();
        try {
            int base = vector * Msix.ENTRY_SIZE;
            return get(table, base + Msix.ENTRY_ADDRESS_LO, 8);
        } finally {
            lock.unlock();
        }
    }

    public int messageData(int vector) {
        return entryRegister(vector, Msix.ENTRY_DATA);
    }

    /** One vector's entry read at one instant. */
    public Entry entry(int vector) {
        checkVector(vector);
        lock.lock();
        try {
            int base = vector * Msix.ENTRY_SIZE;
            return new Entry(
                    get(table, base + Msix.ENTRY_ADDRESS_LO, 8),
                    (int) get(table, base + Msix.ENTRY_DATA, 4),
                    (table[base + Msix.ENTRY_VECTOR_CONTROL] & Msix.ENTRY_VECTOR_CONTROL_MASKED) != 0);
        } finally {
            lock.unlock();
        }
    }

    /** @param address message address; @param data message data; @param masked the vector's own mask bit */
    public record Entry(long address, int data, boolean masked) {}

    public boolean isPending(int vector) {
        checkVector(vector);
        lock.lock();
        try {
            return (pba[vector / 8] & (1 << (vector % 8))) != 0;
        } finally {
            lock.unlock();
        }
    }

    /** The device records (or withdraws) an interrupt it could not send while the vector was masked. */
    public void setPending(int vector, boolean pending) {
        checkVector(vector);
        lock.lock();
        try {
            int bit = 1 << (vector % 8);
            pba[vector / 8] = (byte) (pending ? pba[vector / 8] | bit : pba[vector / 8] & ~bit);
        } finally {
            lock.unlock();
        }
    }

    private int entryRegister(int vector, int register) {
        checkVector(vector);
        lock.lock();
        try {
            return (int) get(table, vector * Msix.ENTRY_SIZE + register, 4);
        } finally {
            lock.unlock();
        }
    }

    private void checkVector(int vector) {
        if (vector < 0 || vector >= tableSize) {
            throw new IllegalArgumentException("MSI-X vector " + vector + " is outside 0-" + (tableSize - 1));
        }
    }

    private static void checkAccess(String area, int offset, int size, int length) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("MSI-X " + area + " access size " + size + " is not 1, 2, 4 or 8");
        }
        if (offset < 0 || offset > length - size) {
            throw new IllegalArgumentException("MSI-X " + area + " access of " + size + " bytes at 0x"
                    + Integer.toHexString(offset) + " exceeds its " + length + " bytes");
        }
    }

    private static long get(byte[] bytes, int offset, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (bytes[offset + i] & 0xFFL) << (8 * i);
        }
        return value;
    }
}
