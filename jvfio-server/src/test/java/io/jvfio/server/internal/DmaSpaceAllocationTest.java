package io.jvfio.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Fd;
import io.jvfio.linux.IoVectors;
import io.jvfio.linux.Linux;
import io.jvfio.linux.Memfd;
import io.jvfio.server.Access;
import io.jvfio.server.DmaView;
import io.jvfio.testing.Allocations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * A device's DMA through a mapped window (what an NVMe or virtio queue does per command) allocates
 * nothing: the window is found without boxing its address, and the bytes move without slices.
 */
class DmaSpaceAllocationTest {
    private static final long IOVA = 0x1_0000_0000L, SIZE = 1 << 20;

    @Test
    void readAndWriteThroughAMappedWindowAllocateNothing() throws Exception {
        DmaSpace dma = new DmaSpace(8);
        dma.map(0x1000, 0x1000, Access.READ_WRITE, null, 0);       // a window by message before ...
        dma.map(IOVA, SIZE, Access.READ_WRITE, Memfd.create("guest-ram", SIZE), 0);
        dma.map(IOVA + 2 * SIZE, SIZE, Access.READ_ONLY, Memfd.create("more-ram", SIZE), 0); // ... and one after
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment command = arena.allocate(64), data = arena.allocate(4096);
            long sink = 0;
            for (int i = 0; i < 20_000; i++) {
                sink += step(dma, command, data, i);
            }
            long before = Allocations.currentThread();
            for (int i = 0; i < 100_000; i++) {
                sink += step(dma, command, data, i);
            }
            long allocated = Allocations.currentThread() - before;
            assertThat(sink).isNotZero();
            // Zero per operation; a little slack for the measurement itself.
            assertThat(allocated).as("bytes allocated over 100k commands").isLessThan(4096);
        } finally {
            dma.unmapAll();
        }
    }

    /** A command's data straight between a file and the mapped window (NVMe's direct reads and writes) allocates nothing. */
    @Test
    void aTransferBetweenAFileAndAMappedWindowAllocatesNothing() throws Exception {
        DmaSpace dma = new DmaSpace(8);
        dma.map(IOVA, SIZE, Access.READ_WRITE, Memfd.create("guest-ram", SIZE), 0);
        try (Fd image = Memfd.create("image", SIZE)) {
            IoVectors vectors = new IoVectors(8);
            long[] iovas = {IOVA + 0x3000, IOVA + 0x1000, IOVA + 0x2000};
            long[] lengths = {4096, 4096, 4096};
            DmaView.MappedTransfer read = v -> Linux.preadv(image, v, 0), write = v -> Linux.pwritev(image, v, 0);
            int done = 0;
            for (int i = 0; i < 100_000; i++) {   // warm-up: the JIT compiles the system call's path
                done += dma.transferMapped(iovas, lengths, 3, 3 * 4096, (i & 1) == 0, vectors, (i & 1) == 0 ? read : write) ? 1 : 0;
            }
            long before = Allocations.currentThread();
            for (int i = 0; i < 100_000; i++) {
                done += dma.transferMapped(iovas, lengths, 3, 3 * 4096, (i & 1) == 0, vectors, (i & 1) == 0 ? read : write) ? 1 : 0;
            }
            long allocated = Allocations.currentThread() - before;
            assertThat(done).as("transfers done directly").isEqualTo(200_000);
            assertThat(allocated).as("bytes allocated over 100k transfers").isLessThan(4096);
            assertThat(dma.transferMapped(new long[] {0x1000}, new long[] {4096}, 1, 4096, true, vectors, read))
                    .as("memory that is not mapped: the caller copies").isFalse();
        } finally {
            dma.unmapAll();
        }
    }

    /** Fetch a 64-byte command, write a 4 KiB page of data and read it back, as a queue worker would. */
    private static long step(DmaSpace dma, MemorySegment command, MemorySegment data, int i) throws Exception {
        long slot = IOVA + (i % 64) * 64L;
        dma.read(slot, command);
        data.set(ValueLayout.JAVA_INT, 0, i);
        dma.write(IOVA + 0x8000 + (i % 16) * 4096L, data);
        dma.read(IOVA + 0x8000 + (i % 16) * 4096L, data);
        dma.write(IOVA + 0x20000 + (i % 16) * 4096L, data, 512, 1024);   // a range of a bigger buffer, as NVMe's PRPs
        dma.read(IOVA + 0x20000 + (i % 16) * 4096L, data, 1024, 512);
        return command.get(ValueLayout.JAVA_BYTE, 0) + data.get(ValueLayout.JAVA_INT, 0) + 1;
    }
}
