module io.jvfio.server {
    requires transitive io.jvfio.linux;
    requires transitive io.jvfio.protocol;
    requires transitive io.jvfio.pci;
    requires com.fasterxml.jackson.dataformat.yaml; // fault plans: YAML (and JSON, its subset) through one mapper
    exports io.jvfio.server;
    exports io.jvfio.server.faults;
    exports io.jvfio.server.zpci;
}
