package io.jvfio.protocol;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** The wire's value layouts (little-endian, packed, unaligned) and bounds-checked helpers. */
final class Wire {
    private Wire() {}

    static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Largest byte array we hand out from a decoder. */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 16;

    static int u16(MemorySegment s, long off) {
        return Short.toUnsignedInt(s.get(U16, off));
    }

    static int i32(MemorySegment s, long off) {
        return s.get(U32, off);
    }

    static long u32(MemorySegment s, long off) {
        return Integer.toUnsignedLong(s.get(U32, off));
    }

    static long i64(MemorySegment s, long off) {
        return s.get(U64, off);
    }

    static void put16(MemorySegment s, long off, int v) {
        s.set(U16, off, (short) v);
    }

    static void put32(MemorySegment s, long off, int v) {
        s.set(U32, off, v);
    }

    static void put64(MemorySegment s, long off, long v) {
        s.set(U64, off, v);
    }

    /** Payload at least {@code need} bytes, else EINVAL "WHAT: payload is N bytes, needs M". */
    static void need(MemorySegment payload, long need, String what) throws ProtocolException {
        if (payload.byteSize() < need) {
            throw ProtocolException.invalid(what + ": payload is " + payload.byteSize() + " bytes, needs " + need);
        }
    }

    /** argsz at least {@code min}, else EINVAL. */
    static void argsz(long argsz, long min, String what) throws ProtocolException {
        if (argsz < min) {
            throw ProtocolException.invalid(what + ": argsz is " + argsz + ", needs at least " + min);
        }
    }

    static void noUnknownFlags(long flags, long known, String what) throws ProtocolException {
        if ((flags & ~known) != 0) {
            throw ProtocolException.invalid(what + ": unknown flags 0x" + Long.toHexString(flags & ~known)
                    + " in 0x" + Long.toHexString(flags));
        }
    }

    /** EINVAL "WHAT N is not a power of two" unless it is one. */
    static void powerOfTwo(long value, String what) throws ProtocolException {
        if (value == 0 || Long.bitCount(value) != 1) {
            throw ProtocolException.invalid(what + " " + Long.toUnsignedString(value) + " is not a power of two");
        }
    }

    static void noOversize(long count, long max, String what) throws ProtocolException {
        if (Long.compareUnsigned(count, max) > 0) {
            throw new ProtocolException(Errno.E2BIG, what + ": count " + Long.toUnsignedString(count)
                    + " exceeds the limit of " + max);
        }
    }

    /**
     * The checks of an access struct ({@code start} and {@code count}, then with data exactly count bytes
     * after the {@code fixed} part), once the payload holds the struct: count ≤ {@code maxCount} (E2BIG),
     * the payload's size, and start + count must not wrap. Allocation-free unless it throws.
     */
    static void checkAccess(MemorySegment payload, long fixed, long start, long count, long maxCount, boolean withData,
            String what, String startName) throws ProtocolException {
        noOversize(count, maxCount, what);
        if (withData && payload.byteSize() - fixed != count) {
            throw invalidLength(payload, "count", count, fixed, what);
        }
        if (wraps(start, count)) {
            throw ProtocolException.invalid(what + ": " + startName + " " + hex(start) + " + count " + count + " wraps around");
        }
    }

    /** EINVAL "WHAT: payload is N bytes, FIELD C needs FIXED + C". */
    static ProtocolException invalidLength(MemorySegment payload, String field, long count, long fixed, String what) {
        return ProtocolException.invalid(what + ": payload is " + payload.byteSize() + " bytes, " + field + " "
                + Long.toUnsignedString(count) + " needs " + (fixed + count));
    }

    /** Copies {@code len} bytes at {@code off} into a new array (bounds already validated). */
    static byte[] bytes(MemorySegment s, long off, long len) {
        if (len > MAX_ARRAY) {
            throw new IllegalArgumentException("too large for a byte[]: " + len);
        }
        byte[] b = new byte[(int) len];
        MemorySegment.copy(s, U8, off, b, 0, (int) len);
        return b;
    }

    static void putBytes(MemorySegment dst, long off, byte[] b) {
        MemorySegment.copy(b, 0, dst, U8, off, b.length);
    }

    /** Programming-error check for encoders: the destination is large enough. */
    static void checkDst(MemorySegment dst, long size, Object what) {
        if (dst.byteSize() < size) {
            throw new IllegalArgumentException(what.getClass().getSimpleName() + ": destination is "
                    + dst.byteSize() + " bytes, needs " + size);
        }
    }

    static void checkU32(long v, String what) {
        if (v < 0 || v > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(what + " does not fit in a u32: " + v);
        }
    }

    static void checkU16(int v, String what) {
        if (v < 0 || v > 0xFFFF) {
            throw new IllegalArgumentException(what + " does not fit in a u16: " + v);
        }
    }

    static long align8(long v) {
        return (v + 7) & ~7L;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /** True when the range [start, start + size) with size &gt; 0 runs past 2^64 (unsigned). */
    static boolean wraps(long start, long size) {
        return size != 0 && Long.compareUnsigned(start + size - 1, start) < 0;
    }
}
