module io.jvfio.client {
    requires transitive io.jvfio.linux;
    requires transitive io.jvfio.protocol;
    exports io.jvfio.client;
    exports io.jvfio.client.kernel;
}
