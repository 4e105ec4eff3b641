module io.jvfio.linux {
    exports io.jvfio.linux;
}
