module io.jvfio.qemu {
    requires io.jvfio.linux;
    exports io.jvfio.qemu;
}
