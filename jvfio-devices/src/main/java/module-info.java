module io.jvfio.devices {
    requires transitive io.jvfio.server;
    requires io.jvfio.nvme.spec;
    exports io.jvfio.devices;
    exports io.jvfio.devices.nvme;
    exports io.jvfio.devices.storage;
    exports io.jvfio.devices.virtio;
}
