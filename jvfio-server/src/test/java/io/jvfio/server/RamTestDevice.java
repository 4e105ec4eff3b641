package io.jvfio.server;

import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** The smallest useful PCI device: BAR 0 is {@code size} bytes of RAM behind a {@link MemoryRegionHandler}. */
public class RamTestDevice extends PciDevice {
    public static final int RAM_BAR = 0;

    /** The device's RAM: what the client reads and writes through BAR 0. */
    public final MemorySegment ram;

    public RamTestDevice(long size) {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5241)
                .classCode(0xff0000).bar(Bar.memory32(RAM_BAR, size)).build());
        this.ram = Arena.ofAuto().allocate(size, 8);
        bar(RAM_BAR, new MemoryRegionHandler(ram));
    }

    @Override
    public String name() {
        return "ram";
    }
}
