module io.jvfio.server {
    requires transitive io.jvfio.linux;
    requires transitive io.jvfio.protocol;
    requires transitive io.jvfio.pci;
    exports io.jvfio.server;
    exports io.jvfio.server.faults;
    exports io.jvfio.server.zpci;
}
