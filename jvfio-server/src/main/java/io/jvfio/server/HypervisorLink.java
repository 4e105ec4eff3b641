package io.jvfio.server;

/**
 * An optional handle an application embedding jvfio (a Java VMM, say) passes to devices at open,
 * the way the kernel hands a KVM handle to a VFIO device. Deliberately empty: each link is the
 * embedder's own type, and devices test for the type they understand.
 */
public interface HypervisorLink {}
