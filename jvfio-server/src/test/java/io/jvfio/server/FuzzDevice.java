package io.jvfio.server;

import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The device the fuzzed sessions talk to: like {@link TestDevice} (plain memory in BAR 0, MSI-X in
 * BAR 2, MSI, INTA, DMA control in BAR 4) but with no fds of its own and DMA lengths bounded, so that
 * any byte sequence may reach it. A 16-byte write at BAR 4 offset 0 ({@code iova u64, length u32,
 * op u32}) starts a device thread that reads (op 0) or writes (op 1) client memory; op 2 reads on
 * the session thread; op 3 raises MSI-X vector {@code length & 7}.
 */
final class FuzzDevice extends PciDevice {
    static final int REGION_SIZE = 0x1000;
    static final int MAX_DMA = 1 << 16;
    private final byte[] memory = new byte[REGION_SIZE];
    /** Device threads still running; the harness waits for them (bounded) before it checks for leaks. */
    final ConcurrentLinkedQueue<Thread> threads = new ConcurrentLinkedQueue<>();

    FuzzDevice() {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(0x1234).deviceId(0xf022).classCode(0xff0000).interruptPin(1)
                .bar(Bar.memory32(0, REGION_SIZE)).bar(Bar.memory32(2, REGION_SIZE)).bar(Bar.memory32(4, REGION_SIZE))
                .capability(Capabilities.msi(4, true, true))
                .capability(Capabilities.msix(8, 2, 0, 2, 0x800))
                .build());
        bar(0, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                synchronized (memory) {
                    MemorySegment.copy(MemorySegment.ofArray(memory), offset, dst, 0, dst.byteSize());
                }
            }

            @Override
            public void write(long offset, MemorySegment src) {
                synchronized (memory) {
                    MemorySegment.copy(src, 0, MemorySegment.ofArray(memory), offset, src.byteSize());
                }
            }
        });
        bar(2, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                dst.fill((byte) 0);
            }

            @Override
            public void write(long offset, MemorySegment src) {}
        });
        bar(4, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                dst.fill((byte) 0);
            }

            @Override
            public void write(long offset, MemorySegment src) throws VfioException {
                if (offset != 0 || src.byteSize() != 16) {
                    throw VfioException.invalid("DMA control takes one 16-byte write at 0");
                }
                long iova = src.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                int length = src.get(ValueLayout.JAVA_INT_UNALIGNED, 8);
                int op = src.get(ValueLayout.JAVA_INT_UNALIGNED, 12);
                if (op == 3) {
                    raise(length & 7);
                    return;
                }
                if (length < 0 || length > MAX_DMA) {
                    throw VfioException.invalid("DMA length " + length);
                }
                DmaView space = dma();
                if (op == 2) {
                    space.read(iova, MemorySegment.ofArray(new byte[length]));
                    return;
                }
                Thread t = Thread.ofPlatform().daemon().name("fuzz-device-dma").unstarted(() -> {
                    try {
                        byte[] data = new byte[length];
                        if (op == 1) {
                            space.write(iova, MemorySegment.ofArray(data));
                        } else {
                            space.read(iova, MemorySegment.ofArray(data));
                        }
                    } catch (VfioException expected) {
                        // outside the windows, client gone, timed out: all fine for a device
                    } finally {
                        threads.remove(Thread.currentThread());
                    }
                });
                threads.add(t);
                t.start();
            }
        });
    }
}
