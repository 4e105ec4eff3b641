package io.jvfio.server.handover;

import io.jvfio.server.DeviceDescription;
import io.jvfio.server.DeviceSpec;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioException;
import java.util.ArrayList;
import java.util.List;

/**
 * What must be the same on both sides of a live upgrade, as text lines: the device's class, its
 * regions and irq indices as the client saw them, and the limits the server advertised at VERSION.
 * The successor is built from the same command line; a mismatch is refused with the lines that differ.
 */
final class DeviceIdentity {
    private DeviceIdentity() {}

    static String of(VfioDevice written, VfioDevice served, ServerOptions options) throws VfioException {
        DeviceDescription description = DeviceDescription.of(written, served, options);
        List<String> lines = new ArrayList<>();
        lines.add("device " + description.deviceClass() + " (" + description.name() + ")");
        DeviceSpec info = description.info();
        lines.add("flags 0x%x, %d regions, %d irq indices".formatted(info.flags(), info.numRegions(), info.numIrqs()));
        for (DeviceDescription.Region r : description.regions()) {
            // Access as fixed letters: a Set's order differs between processes.
            lines.add("region %d: 0x%x bytes %s%s%s".formatted(r.index(), r.size(), r.readable() ? "r" : "-", r.writable() ? "w" : "-",
                    r.mappable() ? " mappable" : ""));
        }
        for (DeviceDescription.Irq irq : description.irqs()) {
            lines.add("irq index %d: %d vectors".formatted(irq.index(), irq.count()));
        }
        lines.add("max_data_xfer_size %d, max_msg_fds %d, max DMA windows %d".formatted(description.advertised().maxDataXferSize(),
                description.advertised().maxMsgFds(), description.maxDmaWindows()));
        return String.join("\n", lines);
    }

    /** Null when equal, else the first line that differs on each side. */
    static String difference(String ours, String theirs) {
        String[] a = ours.split("\n"), b = theirs.split("\n");
        for (int i = 0; i < Math.max(a.length, b.length); i++) {
            String x = i < a.length ? a[i] : "(nothing)", y = i < b.length ? b[i] : "(nothing)";
            if (!x.equals(y)) {
                return "the running server has \"" + y + "\", this one \"" + x + "\"";
            }
        }
        return null;
    }

    /** Whether a client may have mapped memory of this device's own (polled pages): that memory does not cross yet. */
    static boolean hasMappableRegion(VfioDevice served) throws VfioException {
        for (int i = 0; i < served.info().numRegions(); i++) {
            if (served.regionInfo(i).mmap().isPresent()) {
                return true;
            }
        }
        return false;
    }
}
