module io.jvfio.protocol {
    requires transitive io.jvfio.linux;
    requires com.fasterxml.jackson.databind;
    exports io.jvfio.protocol;
}
