/** A userspace NVMe driver written against the client's {@code DeviceHandle}. */
module io.jvfio.nvme {
    requires transitive io.jvfio.client;
    requires io.jvfio.linux;
    requires io.jvfio.nvme.spec;
    exports io.jvfio.nvme;
    exports io.jvfio.nvme.perf;
}
