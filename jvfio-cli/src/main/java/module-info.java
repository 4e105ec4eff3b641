module io.jvfio.cli {
    requires io.jvfio.server;
    requires io.jvfio.client;
    requires io.jvfio.devices;
    requires io.jvfio.qemu;
    requires info.picocli;
    opens io.jvfio.cli to info.picocli;
    exports io.jvfio.cli;
}
