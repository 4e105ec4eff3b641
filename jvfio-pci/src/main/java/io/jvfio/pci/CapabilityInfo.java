package io.jvfio.pci;

/**
 * Where a capability landed in config space.
 *
 * @param id     capability id (8-bit standard or 16-bit extended)
 * @param offset config space offset of its header
 * @param length bytes it occupies, header included
 */
public record CapabilityInfo(int id, int offset, int length) {}
