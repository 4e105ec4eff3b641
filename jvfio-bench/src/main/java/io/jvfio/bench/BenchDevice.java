package io.jvfio.bench;

import io.jvfio.linux.Linux;
import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.MemoryRegionHandler;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.PciDevice;
import io.jvfio.server.VfioException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.LockSupport;

/**
 * The device {@code jvfio bench} measures: BAR 0 is 4 KiB of RAM-backed registers (plain storage,
 * plus a command block that starts DMA copies and delayed interrupts on a device thread); BAR 2 is
 * 8 KiB whose second page is shared memory (a SPARSE_MMAP area, {@link PciDevice#sharedBarArea})
 * holding a polled doorbell, a shared-memory ping-pong for the floor, and the time stamp of the
 * last interrupt; INTx.
 */
final class BenchDevice extends PciDevice {
    static final int VENDOR_ID = 0x1af4, DEVICE_ID = 0x10ff;
    static final int REGS_BAR = 0, SHARED_BAR = 2;
    static final long PAGE = Linux.PAGE_SIZE;
    /** Where the shared page starts in BAR 2. */
    static final long SHARED_OFFSET = PAGE;

    // BAR 0: 0x000-0x0ff plain storage; the command block:
    static final long CMD = 0x100, IOVA = 0x108, LENGTH = 0x110, ITERATIONS = 0x118, DELAY_NANOS = 0x120,
            RESULT_NANOS = 0x128, STATUS = 0x130;
    static final int CMD_DMA_READ = 1, CMD_DMA_WRITE = 2, CMD_MEMCPY = 3, CMD_IRQ = 4, CMD_POLL_DOORBELL = 5,
            CMD_POLL_FLOOR = 6, CMD_POLL_STOP = 7;
    static final int STATUS_IDLE = 0, STATUS_BUSY = 1, STATUS_DONE = 2, STATUS_FAILED = 3;

    // The shared page (offsets within it): one cache line each.
    static final long DOORBELL = 0x00, COMPLETION = 0x40, FLOOR_PING = 0x80, FLOOR_PONG = 0xc0, IRQ_STAMP = 0x100;
    static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment regs = Arena.ofAuto().allocate(0x1000, 8);
    private final MemorySegment bar2Page0 = Arena.ofAuto().allocate(PAGE, 8);
    private final MemorySegment shared;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "bench-device-worker");
        t.setDaemon(true);
        return t;
    });
    private volatile int pollMode;
    private volatile Thread poller;

    BenchDevice() {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(VENDOR_ID).deviceId(DEVICE_ID).classCode(0xff0000).interruptPin(1)
                .bar(Bar.memory32(REGS_BAR, 0x1000))
                .bar(Bar.memory32(SHARED_BAR, 2 * PAGE))
                .build());
        MemoryRegionHandler registers = new MemoryRegionHandler(regs);
        bar(REGS_BAR, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                registers.read(offset, dst);
            }

            @Override
            public void write(long offset, MemorySegment src) {
                registers.write(offset, src);
                if (offset == CMD) {
                    command(regs.get(ValueLayout.JAVA_INT_UNALIGNED, CMD));
                }
            }
        });
        bar(SHARED_BAR, new MemoryRegionHandler(bar2Page0));
        shared = sharedBarArea(SHARED_BAR, SHARED_OFFSET, PAGE);
    }

    @Override
    public String name() {
        return "bench";
    }

    private long reg64(long offset) {
        return regs.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
    }

    private void command(int cmd) {
        switch (cmd) {
            case CMD_POLL_DOORBELL, CMD_POLL_FLOOR -> startPolling(cmd);
            case CMD_POLL_STOP -> stopPolling();
            case CMD_DMA_READ, CMD_DMA_WRITE, CMD_MEMCPY, CMD_IRQ -> {
                regs.set(ValueLayout.JAVA_INT_UNALIGNED, STATUS, STATUS_BUSY);
                long iova = reg64(IOVA), length = reg64(LENGTH), delay = reg64(DELAY_NANOS);
                int iterations = regs.get(ValueLayout.JAVA_INT_UNALIGNED, ITERATIONS);
                worker.execute(() -> work(cmd, iova, length, iterations, delay));
            }
            default -> { }
        }
    }

    /** Runs on the device thread: message DMA needs the session thread free to read the replies. */
    private void work(int cmd, long iova, long length, int iterations, long delay) {
        try {
            if (cmd == CMD_IRQ) {
                LockSupport.parkNanos(delay);
                LONG.setVolatile(shared, IRQ_STAMP, System.nanoTime());
                raise(0);
                regs.set(ValueLayout.JAVA_INT_UNALIGNED, STATUS, STATUS_DONE);
                return;
            }
            try (Arena arena = Arena.ofShared()) { // the session thread fills it for DMA by message
                MemorySegment buffer = arena.allocate(length, 64);
                MemorySegment other = cmd == CMD_MEMCPY ? arena.allocate(length, 64) : null;
                buffer.fill((byte) 0x5a);
                long start = System.nanoTime();
                for (int i = 0; i < iterations; i++) {
                    switch (cmd) {
                        case CMD_DMA_READ -> dma().read(iova, buffer);
                        case CMD_DMA_WRITE -> dma().write(iova, buffer);
                        default -> MemorySegment.copy(buffer, 0, other, 0, length);
                    }
                }
                regs.set(ValueLayout.JAVA_LONG_UNALIGNED, RESULT_NANOS, System.nanoTime() - start);
            }
            regs.set(ValueLayout.JAVA_INT_UNALIGNED, STATUS, STATUS_DONE);
        } catch (VfioException | RuntimeException e) {
            System.err.println("bench device: command " + cmd + " failed: " + e);
            regs.set(ValueLayout.JAVA_INT_UNALIGNED, STATUS, STATUS_FAILED);
        }
    }

    private synchronized void startPolling(int mode) {
        stopPolling();
        pollMode = mode;
        poller = Thread.ofPlatform().daemon().name("bench-device-poller").start(mode == CMD_POLL_FLOOR ? this::floor : this::doorbells);
    }

    private synchronized void stopPolling() {
        Thread t = poller;
        pollMode = 0;
        poller = null;
        if (t != null) {
            try {
                t.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The polled doorbell: a new value rung in the shared page is handled, and completed there. */
    private void doorbells() {
        long seen = (long) LONG.getVolatile(shared, DOORBELL);
        int idle = 0;
        while (pollMode == CMD_POLL_DOORBELL) {
            long rung = (long) LONG.getVolatile(shared, DOORBELL);
            if (rung != seen) {
                seen = rung;
                doorbell(rung);
                idle = 0;
            } else if (++idle < 1 << 20) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(50_000); // a long-idle poller backs off instead of burning a CPU
                idle = 1 << 19;
            }
        }
    }

    /** What the device does for a doorbell: here, complete it at once. */
    private void doorbell(long value) {
        LONG.setVolatile(shared, COMPLETION, value);
    }

    /** The floor: the least code that answers a shared-memory ping. */
    private void floor() {
        long seen = (long) LONG.getVolatile(shared, FLOOR_PING);
        while (pollMode == CMD_POLL_FLOOR) {
            long ping = (long) LONG.getVolatile(shared, FLOOR_PING);
            if (ping != seen) {
                seen = ping;
                LONG.setVolatile(shared, FLOOR_PONG, ping);
            } else {
                Thread.onSpinWait();
            }
        }
    }

    @Override
    public void close() {
        stopPolling();
        super.close();
    }
}
