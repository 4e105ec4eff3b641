module io.jvfio.pci {
    exports io.jvfio.pci;
}
