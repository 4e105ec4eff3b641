/** The jvfio command-line tool. */
module io.jvfio.cli {
    requires io.jvfio.server;
    requires io.jvfio.client;
    requires io.jvfio.devices;
    requires io.jvfio.qemu;
    requires info.picocli;
    requires jdk.unsupported;   // sun.misc.Signal: SIGTERM ends `serve` with exit status 0
    exports io.jvfio.cli;
    opens io.jvfio.cli to info.picocli;
}
