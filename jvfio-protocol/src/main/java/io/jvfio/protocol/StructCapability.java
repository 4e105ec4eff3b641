package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** A capability whose body is one {@link Struct}: its size and encoder come from that declaration. */
interface StructCapability extends InfoCapability {
    @Override
    default long bodySize() {
        return Struct.of((Record) this).encodedSize((Record) this);
    }

    @Override
    default void encodeBody(MemorySegment body) {
        Struct.of((Record) this).encode(body, (Record) this);
    }
}
