/** The jvfio command-line tool. */
module io.jvfio.cli {
    requires io.jvfio.server;
    requires io.jvfio.client;
    requires io.jvfio.nvme;
    requires io.jvfio.devices;
    requires io.jvfio.qemu;
    requires io.jvfio.bench;
    requires info.picocli;
    requires jdk.unsupported;   // sun.misc.Signal: SIGTERM ends `serve` with exit status 0
    exports io.jvfio.cli;
    // picocli builds each command from its annotated fields.
    opens io.jvfio.cli to info.picocli;
    opens io.jvfio.cli.serve to info.picocli;
    opens io.jvfio.cli.demo to info.picocli;
    opens io.jvfio.cli.lspci to info.picocli;
    opens io.jvfio.cli.trace to info.picocli;
    opens io.jvfio.cli.migrate to info.picocli;
    opens io.jvfio.cli.bench to info.picocli;
    opens io.jvfio.cli.nvme to info.picocli;
    opens io.jvfio.cli.fault to info.picocli;
}
