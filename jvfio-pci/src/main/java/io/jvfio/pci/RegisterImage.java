package io.jvfio.pci;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntBinaryOperator;

/**
 * A block of registers being declared: power-on values and, per bit, how a guest write treats it
 * (writable, write-1-to-clear, self-clearing strobe) plus corrections that keep fields legal.
 * Bits in no mask are read-only.
 */
final class RegisterImage {
    final byte[] values;
    final byte[] writable;
    final byte[] writeOneToClear;
    /** Written by the guest, seen by write listeners, then read back as 0 (e.g. Initiate FLR). */
    final byte[] selfClearing;
    final List<RegisterFixup> fixups = new ArrayList<>();

    RegisterImage(int length) {
        values = new byte[length];
        writable = new byte[length];
        writeOneToClear = new byte[length];
        selfClearing = new byte[length];
    }

    int length() {
        return values.length;
    }

    RegisterImage value(int offset, int size, long value) {
        put(values, offset, size, value);
        return this;
    }

    RegisterImage writable(int offset, int size, long mask) {
        put(writable, offset, size, mask);
        return this;
    }

    RegisterImage writeOneToClear(int offset, int size, long mask) {
        put(writeOneToClear, offset, size, mask);
        return this;
    }

    /** The bits are writable and self-clearing. */
    RegisterImage strobe(int offset, int size, long mask) {
        orInto(writable, offset, size, mask);
        put(selfClearing, offset, size, mask);
        return this;
    }

    RegisterImage fixup(int offset, int size, IntBinaryOperator correction) {
        fixups.add(new RegisterFixup(offset, size, correction));
        return this;
    }

    void copyInto(RegisterImage target, int at) {
        System.arraycopy(values, 0, target.values, at, length());
        System.arraycopy(writable, 0, target.writable, at, length());
        System.arraycopy(writeOneToClear, 0, target.writeOneToClear, at, length());
        System.arraycopy(selfClearing, 0, target.selfClearing, at, length());
        for (RegisterFixup fixup : fixups) {
            target.fixups.add(fixup.shiftedBy(at));
        }
    }

    RegisterImage copy() {
        RegisterImage copy = new RegisterImage(length());
        copyInto(copy, 0);
        return copy;
    }

    static void put(byte[] bytes, int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            bytes[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private static void orInto(byte[] bytes, int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            bytes[offset + i] |= (byte) (value >>> (8 * i));
        }
    }

    /** Little-endian, 1 to 4 bytes. */
    static int get(byte[] bytes, int offset, int size) {
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= (bytes[offset + i] & 0xFF) << (8 * i);
        }
        return value;
    }

    /**
     * Corrects a register after a guest write, given its values before and after masking; runs
     * whenever a write touches any byte of it.
     */
    record RegisterFixup(int offset, int size, IntBinaryOperator correction) {
        RegisterFixup shiftedBy(int delta) {
            return new RegisterFixup(offset + delta, size, correction);
        }

        boolean overlaps(int start, int length) {
            return start < offset + size && offset < start + length;
        }
    }
}
