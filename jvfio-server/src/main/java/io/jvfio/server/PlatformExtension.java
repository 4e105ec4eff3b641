package io.jvfio.server;

import io.jvfio.protocol.InfoCapability;
import java.util.List;

/**
 * Platform-specific behaviour the server applies to every device it serves — the generic PCI
 * core, every variant, any device — without the device's code mentioning it: jvfio's answer to
 * the kernel's arch hooks (the s390 zPCI ones in vfio-pci-core). An extension takes part in a
 * client's open and close and contributes device-info capabilities.
 */
public interface PlatformExtension {
    /** A short name for logs and the CLI (e.g. {@code zpci}). */
    String name();

    /** A client opened {@code device}; called after the device's own {@code open}. */
    default void open(VfioDevice device, SessionContext context) throws VfioException {}

    /** The client went away; called before the device's own {@code close}. */
    default void close(VfioDevice device) {}

    /**
     * Device-info capabilities for {@code device} as the open client sees it. Whatever the
     * extension does differently when a hypervisor link is present must show in these contents,
     * so a client without a link can see it.
     */
    default List<InfoCapability> deviceInfoCapabilities(VfioDevice device, SessionContext context) {
        return List.of();
    }
}
