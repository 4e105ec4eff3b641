package io.jvfio.cli.nvme;

import io.jvfio.nvme.ControllerIdentity;
import io.jvfio.nvme.Namespace;
import io.jvfio.nvme.SmartLog;
import java.util.List;
import java.util.StringJoiner;

/** How {@code jvfio nvme} prints what the driver learnt: nvme-cli's field names, human or JSON. */
final class NvmeFormat {
    private NvmeFormat() {}

    static String controller(ControllerIdentity id, long driverMaxTransfer) {
        StringBuilder s = new StringBuilder("NVME Identify Controller:\n");
        field(s, "vid", "0x%x".formatted(id.vendorId()));
        field(s, "ssvid", "0x%x".formatted(id.subsystemVendorId()));
        field(s, "sn", id.serial());
        field(s, "mn", id.model());
        field(s, "fr", id.firmware());
        field(s, "cntlid", "0x%x".formatted(id.controllerId()));
        field(s, "ver", "0x%x (%s)".formatted(id.version(), id.versionString()));
        field(s, "mdts", "%d (%s; the driver moves up to %s per command)".formatted(id.mdts(),
                id.maxTransferBytes() == 0 ? "no limit" : bytes(id.maxTransferBytes()), bytes(driverMaxTransfer)));
        field(s, "oacs", "0x%x".formatted(id.oacs()));
        StringJoiner optional = new StringJoiner(", ", " (", ")").setEmptyValue("");
        if (id.supportsDatasetManagement()) {
            optional.add("Dataset Management");
        }
        if (id.supportsWriteZeroes()) {
            optional.add("Write Zeroes");
        }
        field(s, "oncs", "0x%x%s".formatted(id.oncs(), optional));
        field(s, "nn", Integer.toUnsignedString(id.namespaceCount()));
        field(s, "vwc", id.volatileWriteCache() ? "0x1 (volatile write cache)" : "0");
        field(s, "subnqn", id.subsystemNqn());
        return s.toString();
    }

    static String namespace(Namespace ns) {
        StringBuilder s = new StringBuilder("NVME Identify Namespace %d:\n".formatted(ns.nsid()));
        field(s, "nsze", "0x%x".formatted(ns.sizeBlocks()));
        field(s, "ncap", "0x%x".formatted(ns.capacityBlocks()));
        field(s, "nuse", "0x%x".formatted(ns.utilizationBlocks()));
        field(s, "flbas", "0x%x".formatted(ns.lbaFormat()));
        s.append("lbaf %2d : ms:%-3d lbads:%-2d (in use)\n".formatted(ns.lbaFormat(), ns.metadataSize(),
                Integer.numberOfTrailingZeros(ns.blockSize())));
        field(s, "size", "%s in %d-byte blocks".formatted(bytes(ns.sizeBytes()), ns.blockSize()));
        return s.toString();
    }

    static String list(String device, ControllerIdentity id, List<Namespace> namespaces) {
        String row = "%-24s %-20s %-28s %-9s %-26s %-8s%n";
        StringBuilder s = new StringBuilder(row.formatted("Node", "SN", "Model", "Namespace", "Usage", "FW Rev"));
        s.append(row.formatted("-".repeat(24), "-".repeat(20), "-".repeat(28), "-".repeat(9), "-".repeat(26), "-".repeat(8)));
        for (Namespace ns : namespaces) {
            String usage = "%s / %s  %dB + %dB".formatted(bytes(ns.utilizationBlocks() * ns.blockSize()), bytes(ns.sizeBytes()),
                    ns.blockSize(), ns.metadataSize());
            s.append(row.formatted(device, id.serial(), id.model(), ns.nsid(), usage, id.firmware()));
        }
        return s.toString();
    }

    static String controllerJson(ControllerIdentity id) {
        return new Json().number("vid", id.vendorId()).number("ssvid", id.subsystemVendorId()).text("sn", id.serial())
                .text("mn", id.model()).text("fr", id.firmware()).number("cntlid", id.controllerId()).number("ver", id.version())
                .number("mdts", id.mdts()).number("oacs", id.oacs()).number("oncs", id.oncs())
                .number("nn", Integer.toUnsignedLong(id.namespaceCount())).number("vwc", id.volatileWriteCache() ? 1 : 0)
                .text("subnqn", id.subsystemNqn()).end() + "\n";
    }

    static String namespaceJson(Namespace ns) {
        return namespaceObject(ns) + "\n";
    }

    private static String namespaceObject(Namespace ns) {
        return new Json().number("nsid", ns.nsid()).number("nsze", ns.sizeBlocks()).number("ncap", ns.capacityBlocks())
                .number("nuse", ns.utilizationBlocks()).number("flbas", ns.lbaFormat()).number("block_size", ns.blockSize())
                .number("metadata_size", ns.metadataSize()).end();
    }

    static String listJson(ControllerIdentity id, List<Namespace> namespaces) {
        StringJoiner list = new StringJoiner(",", "[", "]");
        namespaces.forEach(ns -> list.add(namespaceObject(ns)));
        return new Json().text("sn", id.serial()).text("mn", id.model()).text("fr", id.firmware()).raw("namespaces", list.toString())
                .end() + "\n";
    }

    /** As nvme-cli's smart-log: its labels, data units with the bytes they stand for (thousands of 512 bytes). */
    static String smartLog(String device, SmartLog log) {
        StringBuilder s = new StringBuilder("Smart Log for NVME device:%s namespace-id:ffffffff%n".formatted(device));
        String row = "%-40s: %s%n";
        s.append(row.formatted("critical_warning", log.criticalWarning()));
        s.append(row.formatted("temperature", "%d °C (%d K)".formatted(log.temperatureCelsius(), log.temperatureKelvin())));
        s.append(row.formatted("available_spare", log.availableSparePercent() + "%"));
        s.append(row.formatted("available_spare_threshold", log.spareThresholdPercent() + "%"));
        s.append(row.formatted("percentage_used", log.percentageUsed() + "%"));
        s.append(row.formatted("endurance group critical warning summary", log.enduranceGroupWarnings()));
        s.append(row.formatted("Data Units Read", dataUnits(log.dataUnitsRead())));
        s.append(row.formatted("Data Units Written", dataUnits(log.dataUnitsWritten())));
        s.append(row.formatted("host_read_commands", Long.toUnsignedString(log.hostReadCommands())));
        s.append(row.formatted("host_write_commands", Long.toUnsignedString(log.hostWriteCommands())));
        s.append(row.formatted("controller_busy_time", Long.toUnsignedString(log.controllerBusyMinutes())));
        s.append(row.formatted("power_cycles", Long.toUnsignedString(log.powerCycles())));
        s.append(row.formatted("power_on_hours", Long.toUnsignedString(log.powerOnHours())));
        s.append(row.formatted("unsafe_shutdowns", Long.toUnsignedString(log.unsafeShutdowns())));
        s.append(row.formatted("media_errors", Long.toUnsignedString(log.mediaErrors())));
        s.append(row.formatted("num_err_log_entries", Long.toUnsignedString(log.errorLogEntries())));
        s.append(row.formatted("Warning Temperature Time", Integer.toUnsignedString(log.warningTemperatureMinutes())));
        s.append(row.formatted("Critical Composite Temperature Time",
                Integer.toUnsignedString(log.criticalTemperatureMinutes())));
        for (int i = 0; i < log.sensorsKelvin().size(); i++) {
            int kelvin = log.sensorsKelvin().get(i);
            s.append(row.formatted("Temperature Sensor " + (i + 1), "%d °C (%d K)".formatted(kelvin - 273, kelvin)));
        }
        return s.toString();
    }

    private static String dataUnits(long units) {
        return "%s (%s)".formatted(Long.toUnsignedString(units), bytes(units * 512_000));
    }

    /** nvme-cli's JSON names; temperatures in Kelvin as there. */
    static String smartLogJson(SmartLog log) {
        Json json = new Json().number("critical_warning", log.criticalWarning()).number("temperature", log.temperatureKelvin())
                .number("avail_spare", log.availableSparePercent()).number("spare_thresh", log.spareThresholdPercent())
                .number("percent_used", log.percentageUsed())
                .number("endurance_grp_critical_warning_summary", log.enduranceGroupWarnings())
                .unsigned("data_units_read", log.dataUnitsRead()).unsigned("data_units_written", log.dataUnitsWritten())
                .unsigned("host_read_commands", log.hostReadCommands()).unsigned("host_write_commands", log.hostWriteCommands())
                .unsigned("controller_busy_time", log.controllerBusyMinutes()).unsigned("power_cycles", log.powerCycles())
                .unsigned("power_on_hours", log.powerOnHours()).unsigned("unsafe_shutdowns", log.unsafeShutdowns())
                .unsigned("media_errors", log.mediaErrors()).unsigned("num_err_log_entries", log.errorLogEntries())
                .number("warning_temp_time", Integer.toUnsignedLong(log.warningTemperatureMinutes()))
                .number("critical_comp_time", Integer.toUnsignedLong(log.criticalTemperatureMinutes()));
        for (int i = 0; i < log.sensorsKelvin().size(); i++) {
            json.number("temperature_sensor_" + (i + 1), log.sensorsKelvin().get(i));
        }
        return json.end() + "\n";
    }

    private static void field(StringBuilder s, String name, String value) {
        s.append("%-9s : %s%n".formatted(name, value));
    }

    /** 4096 → "4.10 kB", as nvme-cli's decimal units. */
    static String bytes(long n) {
        String[] units = {"B", "kB", "MB", "GB", "TB", "PB"};
        double v = n;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return u == 0 ? n + " B" : "%.2f %s".formatted(v, units[u]);
    }

    /** A flat JSON object, written field by field. */
    private static final class Json {
        private final StringJoiner fields = new StringJoiner(",", "{", "}");

        Json number(String name, long value) {
            return raw(name, Long.toString(value));
        }

        Json unsigned(String name, long value) {
            return raw(name, Long.toUnsignedString(value));
        }

        Json text(String name, String value) {
            StringBuilder quoted = new StringBuilder("\"");
            for (char c : value.toCharArray()) {
                if (c == '"' || c == '\\') {
                    quoted.append('\\').append(c);
                } else if (c < 0x20) {
                    quoted.append("\\u%04x".formatted((int) c));
                } else {
                    quoted.append(c);
                }
            }
            return raw(name, quoted.append('"').toString());
        }

        Json raw(String name, String json) {
            fields.add("\"" + name + "\":" + json);
            return this;
        }

        String end() {
            return fields.toString();
        }
    }
}
