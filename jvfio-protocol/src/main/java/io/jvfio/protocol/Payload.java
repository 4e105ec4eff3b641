package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * A typed message payload: the bytes after the 16-byte {@link Header}. Every request and reply record
 * of this package implements it; each also has a {@code static decode(MemorySegment payload)}.
 */
public interface Payload {
    /** Bytes {@link #encode} writes. */
    long encodedSize();

    /** Writes the payload at offset 0 of {@code dst}, which must hold at least {@link #encodedSize()} bytes. */
    void encode(MemorySegment dst);

    /** Convenience (allocates): the encoded payload in a new heap segment. */
    default MemorySegment toSegment() {
        MemorySegment s = MemorySegment.ofArray(new byte[Math.toIntExact(encodedSize())]);
        encode(s);
        return s;
    }

    /** Convenience (allocates): the encoded payload as a byte array. */
    default byte[] toBytes() {
        byte[] b = new byte[Math.toIntExact(encodedSize())];
        encode(MemorySegment.ofArray(b));
        return b;
    }
}
