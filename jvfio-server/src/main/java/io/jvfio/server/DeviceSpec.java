package io.jvfio.server;

import io.jvfio.protocol.InfoCapability;
import java.util.List;

/**
 * What DEVICE_GET_INFO reports: VFIO device flags, how many regions and irq indices the device
 * has, and device-info capabilities (platform extensions contribute these).
 */
public record DeviceSpec(int flags, int numRegions, int numIrqs, List<InfoCapability> capabilities) {
    public DeviceSpec {
        capabilities = List.copyOf(capabilities);
    }

    public DeviceSpec withCapabilities(List<InfoCapability> more) {
        var all = new java.util.ArrayList<>(capabilities);
        all.addAll(more);
        return new DeviceSpec(flags, numRegions, numIrqs, all);
    }
}
