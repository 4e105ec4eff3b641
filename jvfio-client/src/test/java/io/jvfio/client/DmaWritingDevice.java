package io.jvfio.client;

import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.Migratable;
import io.jvfio.server.PciDevice;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A migratable device that keeps writing client memory on its own thread, as a NIC fills receive
 * buffers: once told where (a u64 IOVA written to BAR 0 at 0, with the memory's size at 8), each
 * step increments a counter and writes it to a slot that moves across the pages. Its state is
 * the counter, the IOVA and the size; a device made with {@code writes = false} never writes (a
 * destination whose memory must stay exactly what the migration carried).
 */
class DmaWritingDevice extends PciDevice implements Migratable {
    static final int CONTROL = 0;
    static final long SLOT = 8;

    private final Object lock = new Object();
    private final boolean writes;
    private final Thread worker;
    private volatile boolean disposed;
    private long counter, iova, size;

    DmaWritingDevice(boolean writes) {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0xd3a0).classCode(0xff0000)
                .bar(Bar.memory32(0, 0x1000)).build());
        this.writes = writes;
        bar(0, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                synchronized (lock) {
                    dst.fill((byte) 0);
                    if (offset == 0 && dst.byteSize() == 8) {
                        dst.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, counter);
                    }
                }
            }

            @Override
            public void write(long offset, MemorySegment src) throws VfioException {
                synchronized (lock) {
                    if (src.byteSize() != 8 || (offset != 0 && offset != 8)) {
                        throw VfioException.invalid("u64 at 0 (iova) or 8 (size)");
                    }
                    long v = src.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                    if (offset == 0) {
                        iova = v;
                    } else {
                        size = v;
                    }
                }
            }
        });
        worker = Thread.ofPlatform().daemon().name("dma-writing-device").start(this::work);
    }

    /** Where step {@code n} writes: slots spread over every page of the memory. */
    static long slot(long n, long size) {
        return (n * 4096 + (n / (size / 4096)) % (4096 / SLOT) * SLOT) % size;
    }

    private void work() {
        while (!disposed) {
            synchronized (lock) {
                // Checked under the lock quiesce() takes: once it returned, no step starts.
                if (writes && isRunning() && size >= 4096 && context().isPresent()) {
                    long n = counter + 1;
                    try {
                        dma().write(iova + slot(n, size), MemorySegment.ofArray(new long[] {n}));
                        counter = n;
                    } catch (VfioException | RuntimeException e) {
                        // the client's memory went away: wait for the next
                    }
                }
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    long counter() {
        synchronized (lock) {
            return counter;
        }
    }

    void dispose() throws InterruptedException {
        disposed = true;
        worker.join(10_000);
    }

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            out.section("dma-writer", 1).u64(counter).u64(iova).u64(size);
        }
    }

    @Override
    public void loadState(StateReader in) throws VfioException {
        StateReader.Section s = in.section("dma-writer").requireVersion(1);
        synchronized (lock) {
            counter = s.u64();
            iova = s.u64();
            size = s.u64();
        }
    }

    @Override
    public void quiesce() {
        synchronized (lock) {
            // waits out a step in progress
        }
    }
}
