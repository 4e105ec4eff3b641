package io.jvfio.cli.serve;

import static io.jvfio.cli.VfioNames.irqName;
import static io.jvfio.cli.VfioNames.regionName;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvfio.cli.VfioNames;
import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.RegionTypeCap;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.server.DeviceDescription;
import io.jvfio.server.RegionSpec;
import java.util.List;

/**
 * {@code jvfio serve DEVICE … --describe}: the JSON description the vfio-user specification's
 * backend-program conventions ask a backend to ship ("a JSON file under /usr/share/vfio-user";
 * the spec's schema is still to come, so the top keys follow its model, vhost-user.json:
 * description, type), followed by what a client finds on the device, from {@link DeviceDescription}.
 * Ids and flags are hex strings as lspci prints them; sizes, counts and indices are numbers.
 */
final class DescriptionJson {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private DescriptionJson() {}

    /** {@code platformExtensions}: the names of the extensions applied (their device-info capabilities come per client). */
    static ObjectNode of(DeviceDescription d, String description, List<String> platformExtensions) {
        ObjectNode root = JSON.objectNode();
        root.put("description", description);
        root.put("type", busType(d.info().flags()));
        ObjectNode device = device(d);
        ArrayNode extensions = device.putArray("platform_extensions");
        platformExtensions.forEach(extensions::add);
        root.set("device", device);
        ArrayNode regions = root.putArray("regions");
        for (DeviceDescription.Region r : d.regions()) {
            if (r.size() > 0) {
                regions.add(region(r));
            }
        }
        ArrayNode irqs = root.putArray("irqs");
        for (DeviceDescription.Irq irq : d.irqs()) {
            if (irq.count() > 0) {
                irqs.addObject().put("index", irq.index()).put("name", irqName(irq.index())).put("count", irq.count())
                        .set("flags", flagNames(VfioNames.irqFlags(irq.flags())));
            }
        }
        root.set("migration", migration(d));
        root.set("server", server(d));
        root.set("backend_program", backendProgram());
        return root;
    }

    private static String busType(int flags) {
        if ((flags & Vfio.DEVICE_FLAGS_PCI) != 0) return "pci";
        if ((flags & Vfio.DEVICE_FLAGS_PLATFORM) != 0) return "platform";
        return "other";
    }

    private static ObjectNode device(DeviceDescription d) {
        ObjectNode device = JSON.objectNode().put("name", d.name()).put("class", d.deviceClass());
        device.set("flags", flagNames(VfioNames.deviceFlags(d.info().flags())));
        d.pci().ifPresent(pci -> device.putObject("pci")
                .put("vendor_id", hex(pci.vendorId(), 4)).put("device_id", hex(pci.deviceId(), 4))
                .put("subsystem_vendor_id", hex(pci.subsystemVendorId(), 4)).put("subsystem_id", hex(pci.subsystemId(), 4))
                .put("revision", hex(pci.revision(), 2)).put("class_code", hex(pci.classCode(), 6))
                .put("header_type", hex(pci.headerType(), 2)));
        ArrayNode caps = device.putArray("capabilities");
        d.info().capabilities().forEach(c -> caps.add(capability(c)));
        return device;
    }

    private static ObjectNode region(DeviceDescription.Region r) {
        ObjectNode region = JSON.objectNode().put("index", r.index()).put("name", regionName(r.index())).put("size", r.size());
        region.set("flags", flagNames(VfioNames.regionFlags(r.flags())));
        if (!r.mappableAreas().isEmpty()) {
            ArrayNode areas = region.putArray("mappable_areas");
            for (RegionSpec.SparseArea a : r.mappableAreas()) {
                areas.addObject().put("offset", a.offset()).put("size", a.size());
            }
        }
        if (!r.capabilities().isEmpty()) {
            ArrayNode caps = region.putArray("capabilities");
            r.capabilities().forEach(c -> caps.add(capability(c)));
        }
        return region;
    }

    private static ObjectNode capability(InfoCapability c) {
        ObjectNode cap = JSON.objectNode().put("id", c.id()).put("version", c.version());
        if (c instanceof RegionTypeCap t) {
            cap.put("kind", "type").put("type", hex(t.type(), 8)).put("subtype", hex(t.subtype(), 8));
        } else {
            cap.put("kind", c.getClass().getSimpleName());
        }
        return cap;
    }

    private static ObjectNode migration(DeviceDescription d) {
        ObjectNode migration = JSON.objectNode().put("supported", d.migration().isPresent());
        d.migration().ifPresent(flags -> {
            migration.put("protocol", "VFIO migration v2 (DEVICE_FEATURE MIGRATION, MIG_DEVICE_STATE, MIG_DATA_READ/WRITE)");
            migration.set("flags", flagNames(VfioNames.names((int) flags, new int[] {(int) Vfio.MIGRATION_STOP_COPY,
                    (int) Vfio.MIGRATION_P2P, (int) Vfio.MIGRATION_PRE_COPY}, new String[] {"STOP_COPY", "P2P", "PRE_COPY"})));
            // The server logs the device's DMA writes for migration (DEVICE_FEATURE DMA_LOGGING_*) whenever the device migrates.
            migration.put("dirty_page_logging", true);
        });
        return migration;
    }

    private static ObjectNode server(DeviceDescription d) {
        ObjectNode server = JSON.objectNode();
        server.set("version_capabilities", d.advertised().json().get(VersionCapabilities.ROOT).deepCopy());
        server.put("max_dma_windows", d.maxDmaWindows());
        // How the server reaches client memory: an fd the client passes with DMA_MAP is mapped; a window
        // without one is read and written with DMA_READ/DMA_WRITE messages.
        server.set("dma", JSON.arrayNode().add("mapped_fd").add("messages"));
        return server;
    }

    private static ObjectNode backendProgram() {
        ObjectNode program = JSON.objectNode();
        program.put("socket_path", "--socket-path PATH (or --socket PATH)");
        program.put("fd", "--fd N: a listening socket, or a connected one for a single client");
        program.put("systemd_socket_activation", "LISTEN_FDS=1: a listening socket, or one connection (Accept=yes)");
        program.put("sigterm", "disconnects the client and exits 0, removing the socket file if it made it");
        return program;
    }

    /** {@code "R,W,MMAP"} as a JSON array; empty for {@code none}. */
    private static ArrayNode flagNames(String joined) {
        ArrayNode names = JSON.arrayNode();
        if (!joined.equals("none")) {
            for (String name : joined.split(",")) {
                names.add(name);
            }
        }
        return names;
    }

    /** {@code value} as an unsigned hex string of at least {@code digits} digits. */
    private static String hex(int value, int digits) {
        return "0x" + String.format("%0" + digits + "x", Integer.toUnsignedLong(value));
    }
}
