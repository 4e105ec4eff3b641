/**
 * The NVM Express specification's numbers in one place ({@link io.jvfio.nvme.spec.Nvme}), shared
 * by the controller (jvfio-devices) and the driver (jvfio-nvme). No I/O, no dependencies.
 */
module io.jvfio.nvme.spec {
    exports io.jvfio.nvme.spec;
}
