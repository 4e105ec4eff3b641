package io.jvfio.client.kernel;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI function's address, domain:bus:device.function, as sysfs names it ({@code 0000:00:04.0}).
 * Parsed from that form or the short one without the domain ({@code 00:04.0}, domain 0).
 */
public record PciAddress(int domain, int bus, int device, int function) {
    private static final Pattern FORM = Pattern.compile(
            "(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\\.([0-7])");

    public PciAddress {
        if (domain < 0 || bus < 0 || bus > 0xFF || device < 0 || device > 0x1F || function < 0
                || function > 7) {
            throw new IllegalArgumentException("not a PCI address: %x:%x:%x.%x".formatted(domain, bus, device, function));
        }
    }

    /** The address {@code text} names, or empty when it is no PCI address (a path, say). */
    public static Optional<PciAddress> tryParse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            return Optional.empty();
        }
        int domain = m.group(1) == null ? 0 : (int) Long.parseLong(m.group(1), 16);
        int device = Integer.parseInt(m.group(3), 16);
        if (device > 0x1F || domain < 0) {
            return Optional.empty();
        }
        return Optional.of(new PciAddress(domain, Integer.parseInt(m.group(2), 16), device, Integer.parseInt(m.group(4))));
    }

    /** The address {@code text} names; IllegalArgumentException when it is none. */
    public static PciAddress parse(String text) {
        return tryParse(text).orElseThrow(() -> new IllegalArgumentException(
                "not a PCI address (want 0000:00:04.0 or 00:04.0): " + text));
    }

    /** sysfs's name: {@code 0000:00:04.0}. */
    @Override
    public String toString() {
        return "%04x:%02x:%02x.%x".formatted(domain, bus, device, function);
    }
}
