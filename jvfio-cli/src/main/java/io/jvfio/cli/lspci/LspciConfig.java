package io.jvfio.cli.lspci;

/**
 * A read-only little-endian view of a device's configuration space as fetched by {@code jvfio lspci}.
 * Reads past the end return all ones, as an absent register does on a real bus; {@link #has} tells
 * whether a range was actually fetched.
 */
record LspciConfig(byte[] bytes) {
    LspciConfig {
        bytes = bytes.clone();
    }

    int size() {
        return bytes.length;
    }

    boolean has(int offset, int length) {
        return offset >= 0 && length >= 0 && offset + length <= bytes.length;
    }

    int u8(int offset) {
        return has(offset, 1) ? Byte.toUnsignedInt(bytes[offset]) : 0xff;
    }

    int u16(int offset) {
        return has(offset, 2) ? u8(offset) | u8(offset + 1) << 8 : 0xffff;
    }

    long u32(int offset) {
        return has(offset, 4) ? (u16(offset) | (long) u16(offset + 2) << 16) : 0xffff_ffffL;
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }
}
