package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * One entry of an info struct's capability chain (region info, device info). The 8-byte header
 * {@code {id u16, version u16, next u32}} is written by {@link CapabilityChain}; implementations supply
 * the body that follows it.
 */
public interface InfoCapability {
    int id();

    /** The capability's version: 1 unless the capability says otherwise. */
    default int version() {
        return 1;
    }

    /** Body bytes after the 8-byte header (the chain pads each capability to 8 bytes). */
    long bodySize();

    /** Writes the body at offset 0 of {@code body}. */
    void encodeBody(MemorySegment body);
}
