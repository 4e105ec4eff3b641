/**
 * The vfio-user wire format: header, every command's payload, capability chains, version JSON.
 * Pure functions over {@link java.lang.foreign.MemorySegment}s; no I/O.
 */
module io.jvfio.protocol {
    requires transitive io.jvfio.linux;
    requires transitive com.fasterxml.jackson.databind;
    exports io.jvfio.protocol;
}
