package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** A payload that is one {@link Struct} (and its data): its size and encoder come from that declaration. */
interface StructPayload extends Payload {
    @Override
    default long encodedSize() {
        return Struct.of((Record) this).encodedSize((Record) this);
    }

    @Override
    default void encode(MemorySegment dst) {
        Struct.of((Record) this).encode(dst, (Record) this);
    }
}
