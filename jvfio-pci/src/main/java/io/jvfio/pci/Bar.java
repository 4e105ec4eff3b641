package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.BaseAddress;

/**
 * A base address register declaration: which slot, what kind of space, how large.
 *
 * @param index        BAR slot 0-5; a 64-bit BAR also occupies {@code index + 1}
 * @param type         I/O, 32-bit memory or 64-bit memory
 * @param size         bytes, a power of two: I/O 4-256, memory at least 16 (4096 or more lets the
 *                     guest mmap it)
 * @param prefetchable memory only
 */
public record Bar(int index, Type type, long size, boolean prefetchable) {

    public enum Type { IO, MEMORY32, MEMORY64 }

    public static final long MIN_MEMORY_SIZE = 16;
    public static final long MAX_MEMORY32_SIZE = 1L << 31;
    public static final long MAX_MEMORY64_SIZE = 1L << 62;
    public static final long MIN_IO_SIZE = 4;
    public static final long MAX_IO_SIZE = 256;

    public Bar {
        if (type == null) {
            throw new IllegalArgumentException("BAR type must not be null");
        }
        if (index < 0 || index >= PciRegisters.BAR_COUNT) {
            throw new IllegalArgumentException("BAR index " + index + " is outside 0-5");
        }
        if (type == Type.MEMORY64 && index == PciRegisters.BAR_COUNT - 1) {
            throw new IllegalArgumentException("a 64-bit BAR needs two slots, so it cannot start at index 5");
        }
        if (size <= 0 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR " + index + " size " + size + " is not a power of two");
        }
        switch (type) {
            case IO -> {
                if (prefetchable) {
                    throw new IllegalArgumentException("I/O BAR " + index + " cannot be prefetchable");
                }
                if (size < MIN_IO_SIZE || size > MAX_IO_SIZE) {
                    throw new IllegalArgumentException(
                            "I/O BAR " + index + " size " + size + " is outside " + MIN_IO_SIZE + "-" + MAX_IO_SIZE);
                }
            }
            case MEMORY32 -> requireMemorySize(index, size, MAX_MEMORY32_SIZE);
            case MEMORY64 -> requireMemorySize(index, size, MAX_MEMORY64_SIZE);
        }
    }

    private static void requireMemorySize(int index, long size, long max) {
        if (size < MIN_MEMORY_SIZE || size > max) {
            throw new IllegalArgumentException(
                    "memory BAR " + index + " size " + size + " is outside " + MIN_MEMORY_SIZE + "-" + max);
        }
    }

    public static Bar io(int index, long size) {
        return new Bar(index, Type.IO, size, false);
    }

    public static Bar memory32(int index, long size) {
        return new Bar(index, Type.MEMORY32, size, false);
    }

    public static Bar memory32(int index, long size, boolean prefetchable) {
        return new Bar(index, Type.MEMORY32, size, prefetchable);
    }

    public static Bar memory64(int index, long size, boolean prefetchable) {
        return new Bar(index, Type.MEMORY64, size, prefetchable);
    }

    public boolean isIo() {
        return type == Type.IO;
    }

    public boolean isMemory() {
        return type != Type.IO;
    }

    public boolean is64Bit() {
        return type == Type.MEMORY64;
    }

    /** How many BAR registers this BAR uses: 2 for 64-bit, else 1. */
    public int slots() {
        return is64Bit() ? 2 : 1;
    }

    /** The read-only low bits that tell the guest the kind of space. */
    public int flags() {
        return switch (type) {
            case IO -> BaseAddress.SPACE_IO;
            case MEMORY32 -> BaseAddress.MEMORY_TYPE_32 | (prefetchable ? BaseAddress.MEMORY_PREFETCHABLE : 0);
            case MEMORY64 -> BaseAddress.MEMORY_TYPE_64 | (prefetchable ? BaseAddress.MEMORY_PREFETCHABLE : 0);
        };
    }

    /** Writable address bits across both dwords (low dword first); the guest learns the size from them. */
    long addressMask() {
        long flagBits = isIo() ? BaseAddress.IO_FLAGS_MASK : BaseAddress.MEMORY_FLAGS_MASK;
        long mask = ~(size - 1) & ~flagBits;
        return is64Bit() ? mask : mask & 0xFFFF_FFFFL;
    }
}
