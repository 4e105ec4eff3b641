package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * A capability this package does not interpret (or a known id with an unknown version). On decode the
 * body runs to the next capability or the end of the struct, so it includes any padding.
 */
public record RawCapability(int id, int version, byte[] body) implements InfoCapability {
    public RawCapability {
        Wire.checkU16(id, "id");
        Wire.checkU16(version, "version");
        body = body.clone();
    }

    @Override public byte[] body() { return body.clone(); }

    @Override
    public long bodySize() {
        return body.length;
    }

    @Override
    public void encodeBody(MemorySegment dst) {
        Wire.putBytes(dst, 0, body);
    }

    static RawCapability of(CapabilityChain.Entry e) {
        return new RawCapability(e.id(), e.version(), Wire.bytes(e.body(), 0, e.body().byteSize()));
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
