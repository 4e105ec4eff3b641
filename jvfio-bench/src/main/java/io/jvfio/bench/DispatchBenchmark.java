package io.jvfio.bench;

import io.jvfio.client.ClientOptions;
import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.PciIdio16;
import io.jvfio.linux.UnixSocket;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.MemoryRegionHandler;
import io.jvfio.server.PciDevice;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Request dispatch end to end in one JVM: a {@link VfioUserServer} session serves a device over a
 * socketpair to a {@link VfioUserClient}; each operation is one REGION_READ or REGION_WRITE round
 * trip (client encode, send, session read + validate + dispatch to the device + reply, client
 * read + decode). {@code -prof gc} counts what every thread of the JVM allocates (client, session
 * thread, reader), normalised per operation: the goal is 0 B/op.
 *
 * <pre>java -jar jvfio-bench/target/benchmarks.jar DispatchBenchmark -prof gc</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class DispatchBenchmark {
    /** BAR 0: 4 KiB of RAM behind a trapped handler. */
    static final class RamDevice extends PciDevice {
        private final MemorySegment ram = Arena.ofAuto().allocate(4096, 8);

        RamDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1af4).deviceId(0x10fe)
                    .bar(Bar.memory32(0, 4096)).build());
            bar(0, new MemoryRegionHandler(ram));
        }
    }

    private VfioUserServer ram;
    private VfioUserServer gpio;
    private VfioUserClient ramClient;
    private VfioUserClient gpioClient;
    private int value;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        UnixSocket[] a = UnixSocket.pair();
        ram = serve(a[0], new RamDevice());
        ramClient = VfioUserClient.open(a[1], ClientOptions.defaults());
        UnixSocket[] b = UnixSocket.pair();
        gpio = serve(b[0], new PciIdio16());
        gpioClient = VfioUserClient.open(b[1], ClientOptions.defaults());
    }

    private static VfioUserServer serve(UnixSocket end, PciDevice device) throws IOException {
        // The server owns the fd from here (closing the UnixSocket would shut the connection down).
        VfioUserServer server = VfioUserServer.adopt(end.fd(), device, ServerOptions.defaults());
        server.start();
        return server;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        ramClient.close();
        gpioClient.close();
        ram.close();
        gpio.close();
    }

    /** REGION_READ of 4 bytes from a RAM-backed BAR. */
    @Benchmark
    public int regionRead4() throws IOException {
        return ramClient.read32(0, 0x40);
    }

    /** REGION_WRITE of 4 bytes to a RAM-backed BAR. */
    @Benchmark
    public void regionWrite4() throws IOException {
        ramClient.write32(0, 0x40, value++);
    }

    /** REGION_READ of the GPIO card's output register (8-bit register file, BAR 2). */
    @Benchmark
    public int gpioRead1() throws IOException {
        return gpioClient.read8(2, 0);
    }

    /** REGION_READ of a config-space dword (the PCI core's config emulation). */
    @Benchmark
    public int configRead4() throws IOException {
        return ramClient.read32(Vfio.PCI_CONFIG_REGION_INDEX, 0x10);
    }
}
