package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.ControllerRegisters.PAGE_SIZE;
import static io.jvfio.nvme.spec.Nvme.*;

import java.nio.charset.StandardCharsets;

/**
 * Who the controller says it is: PCI vendor id (also Identify VID/SSVID), serial, model and
 * firmware revision (space-padded ASCII in Identify), MDTS, whether OACS advertises Doorbell Buffer
 * Config (shadow doorbells), and the subsystem NQN built from them.
 * Linux merges controllers with equal serial and model into one subsystem: give each its own serial.
 */
record ControllerIdentity(int vendorId, String serial, String model, String firmware, int mdts, boolean shadowDoorbells) {
    ControllerIdentity {
        check("serial", serial, SN_BYTES);
        check("model", model, MN_BYTES);
        check("firmware revision", firmware, FR_BYTES);
    }

    private static void check(String what, String value, int max) {
        if (value.isEmpty() || value.length() > max || !StandardCharsets.US_ASCII.newEncoder().canEncode(value)
                || value.chars().anyMatch(ch -> ch < 0x20 || ch > 0x7e)) {
            throw new IllegalArgumentException("the %s must be 1-%d printable ASCII characters: '%s'".formatted(what, max, value));
        }
    }

    /** An NQN in the UUID-less form NVMe 1.4 §7.9 allows a vendor: its own domain-like prefix, model and serial. */
    String subsystemNqn() {
        return "nqn.2026-12.io.jvfio:nvme:" + model.strip().replace(' ', '_') + ":" + serial.strip();
    }

    /** The largest data transfer, in bytes (MDTS is a power of two in units of the minimum page). */
    int maxTransferBytes() {
        return PAGE_SIZE << mdts;
    }
}
