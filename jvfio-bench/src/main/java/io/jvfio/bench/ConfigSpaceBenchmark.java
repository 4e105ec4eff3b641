package io.jvfio.bench;

import io.jvfio.devices.PciIdio16;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.pci.PciRegisters;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Config-space emulation: what a REGION_READ/WRITE of region 7 costs inside the server (write masks,
 * BAR sizing, capability walk), over the same {@code MemorySegment} interface the session uses.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ConfigSpaceBenchmark {
    private ConfigSpace config;
    private MemorySegment dword;
    private int toggle;

    @Setup
    public void setup() {
        config = new PciIdio16().config();
        dword = Arena.ofAuto().allocate(4, 4);
    }

    /** Dword read of the vendor/device id (through a segment, as the session does). */
    @Benchmark
    public int readIdDword() {
        config.read(PciRegisters.VENDOR_ID, dword);
        return dword.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    /** Dword write of the command/status register (write mask, RW1C status bits). */
    @Benchmark
    public int writeCommand() {
        dword.set(ValueLayout.JAVA_INT_UNALIGNED, 0, (toggle ^= 0x6));
        config.write(PciRegisters.COMMAND, dword);
        return toggle;
    }

    /** BAR sizing as a guest does it: write all ones, read back the size mask, restore. */
    @Benchmark
    public int sizeBar() {
        int bar = PciRegisters.BASE_ADDRESS_0 + 2 * PciRegisters.BAR_STRIDE;
        dword.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0xffff_ffff);
        config.write(bar, dword);
        config.read(bar, dword);
        int mask = dword.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        dword.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0xfebf_0000);
        config.write(bar, dword);
        return mask;
    }
}
