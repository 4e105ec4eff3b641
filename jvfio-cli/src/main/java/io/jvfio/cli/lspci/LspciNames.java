package io.jvfio.cli.lspci;

import java.util.Map;

/**
 * Names for the first line of {@code jvfio lspci}, formatted the way lspci formats them with its
 * {@code -n}/{@code -nn} modes. There is no vendor database here (lspci's comes from pci.ids), so
 * vendors and devices always read {@code Device vvvv:dddd}; the class table covers the common
 * classes of the PCI Code and ID Assignment specification.
 */
final class LspciNames {
    private LspciNames() {}

    /** Base classes (the upper byte of the 16-bit class). */
    private static final Map<Integer, String> BASE = Map.ofEntries(
            Map.entry(0x00, "Unclassified device"),
            Map.entry(0x01, "Mass storage controller"),
            Map.entry(0x02, "Network controller"),
            Map.entry(0x03, "Display controller"),
            Map.entry(0x04, "Multimedia controller"),
            Map.entry(0x05, "Memory controller"),
            Map.entry(0x06, "Bridge"),
            Map.entry(0x07, "Communication controller"),
            Map.entry(0x08, "Generic system peripheral"),
            Map.entry(0x09, "Input device controller"),
            Map.entry(0x0a, "Docking station"),
            Map.entry(0x0b, "Processor"),
            Map.entry(0x0c, "Serial bus controller"),
            Map.entry(0x0d, "Wireless controller"),
            Map.entry(0x0e, "Intelligent controller"),
            Map.entry(0x0f, "Satellite communications controller"),
            Map.entry(0x10, "Encryption controller"),
            Map.entry(0x11, "Signal processing controller"),
            Map.entry(0x12, "Processing accelerators"),
            Map.entry(0x13, "Non-Essential Instrumentation"),
            Map.entry(0x40, "Coprocessor"));

    /** Sub-classes (the whole 16-bit class). */
    private static final Map<Integer, String> SUB = Map.ofEntries(
            Map.entry(0x0000, "Non-VGA unclassified device"),
            Map.entry(0x0001, "VGA compatible unclassified device"),
            Map.entry(0x0100, "SCSI storage controller"),
            Map.entry(0x0101, "IDE interface"),
            Map.entry(0x0104, "RAID bus controller"),
            Map.entry(0x0106, "SATA controller"),
            Map.entry(0x0107, "Serial Attached SCSI controller"),
            Map.entry(0x0108, "Non-Volatile memory controller"),
            Map.entry(0x0180, "Mass storage controller"),
            Map.entry(0x0200, "Ethernet controller"),
            Map.entry(0x0280, "Network controller"),
            Map.entry(0x0300, "VGA compatible controller"),
            Map.entry(0x0302, "3D controller"),
            Map.entry(0x0380, "Display controller"),
            Map.entry(0x0401, "Multimedia audio controller"),
            Map.entry(0x0403, "Audio device"),
            Map.entry(0x0500, "RAM memory"),
            Map.entry(0x0600, "Host bridge"),
            Map.entry(0x0601, "ISA bridge"),
            Map.entry(0x0604, "PCI bridge"),
            Map.entry(0x0680, "Bridge"),
            Map.entry(0x0700, "Serial controller"),
            Map.entry(0x0780, "Communication controller"),
            Map.entry(0x0880, "System peripheral"),
            Map.entry(0x0c03, "USB controller"),
            Map.entry(0x0c05, "SMBus"),
            Map.entry(0x1080, "Encryption controller"),
            Map.entry(0x1180, "Signal processing controller"),
            Map.entry(0x1200, "Processing accelerators"));

    /** The class for the first line: {@code Ethernet controller}, {@code Class ff00}; -n: {@code ff00}; -nn: {@code Class [ff00]}. */
    static String className(int deviceClass, int numeric) {
        String number = "%04x".formatted(deviceClass);
        if (numeric == 1) {
            return number;
        }
        String name = SUB.get(deviceClass);
        if (name != null) {
            return numeric >= 2 ? name + " [" + number + "]" : name;
        }
        String base = BASE.get(deviceClass >>> 8);
        if (base != null) {
            return base + " [" + number + "]";
        }
        return numeric >= 2 ? "Class [" + number + "]" : "Class " + number;
    }

    /** A vendor/device pair: {@code Device 494f:0dc8}; -n: {@code 494f:0dc8}; -nn: {@code Device [494f:0dc8]}. */
    static String deviceName(int vendor, int device, int numeric) {
        String number = "%04x:%04x".formatted(vendor, device);
        return switch (numeric) {
            case 0 -> "Device " + number;
            case 1 -> number;
            default -> "Device [" + number + "]";
        };
    }
}
