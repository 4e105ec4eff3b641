/**
 * The benchmarks: what {@code jvfio bench} runs (latency, scale, start-up, virtio-blk and NVMe against
 * QEMU's devices, the Java NVMe driver against jvfio's controller, with the bench device and the
 * servers they measure), and the JMH benchmarks of target/benchmarks.jar, which run on the class path.
 */
module io.jvfio.bench {
    requires io.jvfio.client;
    requires io.jvfio.devices;
    requires io.jvfio.nvme;
    requires jdk.management;    // the NVMe driver bench counts what its I/O thread allocates
    requires io.jvfio.qemu;
    requires jdk.unsupported;   // sun.misc.Signal: the AOT training stops `serve` as SIGTERM does
    requires static jmh.core;   // the JMH benchmarks only: `jvfio bench` runs without JMH
    exports io.jvfio.bench;
}
