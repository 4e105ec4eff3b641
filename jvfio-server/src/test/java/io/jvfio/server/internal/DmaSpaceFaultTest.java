package io.jvfio.server.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Memfd;
import io.jvfio.server.Access;
import io.jvfio.server.DmaWindow;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.Faults;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A window removed by a fault on a device thread while the session thread maps and unmaps other
 * windows: both go through the DMA space's write lock, so neither loses the other's change.
 */
class DmaSpaceFaultTest {
    private static final long PAGE = 0x1000, DEVICE_WINDOW = 0x100000, CLIENT_WINDOW = 0x200000;

    @Test
    void aRemovalOnADeviceThreadIsOrderedWithTheSessionsMapsAndUnmaps() throws Exception {
        Faults faults = new Faults();
        DmaSpace dma = new DmaSpace(8, faults);
        dma.map(DEVICE_WINDOW, PAGE, Access.READ_WRITE, Memfd.create("device-window", PAGE), 0);
        faults.add(FaultRule.on("yank", new FaultMatch.Dma(DEVICE_WINDOW, DEVICE_WINDOW + PAGE, FaultMatch.Direction.ANY),
                new FaultAction.RemoveDmaWindow()).everyNth(500).times(1));
        AtomicBoolean deviceDone = new AtomicBoolean();
        CompletableFuture<Integer> device = CompletableFuture.supplyAsync(() -> {
            MemorySegment buffer = MemorySegment.ofArray(new byte[64]);
            try {
                for (int i = 0; ; i++) {
                    try {
                        dma.read(DEVICE_WINDOW + (i % 64) * 64L, buffer);
                    } catch (VfioException e) {
                        return e.errno();
                    }
                }
            } finally {
                deviceDone.set(true);
            }
        });
        int cycles = 0;
        try {
            while (!deviceDone.get() || cycles < 100) { // the session thread's DMA_MAP/DMA_UNMAP meanwhile
                dma.map(CLIENT_WINDOW, PAGE, Access.READ_WRITE, Memfd.create("client-window", PAGE), 0);
                dma.unmap(CLIENT_WINDOW, PAGE);
                cycles++;
            }
            dma.map(CLIENT_WINDOW, PAGE, Access.READ_WRITE, Memfd.create("client-window", PAGE), 0);

            assertThat(device.get(10, TimeUnit.SECONDS)).isEqualTo(Errno.EFAULT);
            assertThat(dma.windows()).extracting(DmaWindow::iova).containsExactly(CLIENT_WINDOW);
            assertThatThrownBy(() -> dma.read(DEVICE_WINDOW, MemorySegment.ofArray(new byte[8])))
                    .isInstanceOfSatisfying(VfioException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
            dma.unmap(DEVICE_WINDOW, PAGE); // the client's own unmap of the removed window
            dma.map(DEVICE_WINDOW, PAGE, Access.READ_WRITE, Memfd.create("device-window", PAGE), 0);
            dma.read(DEVICE_WINDOW, MemorySegment.ofArray(new byte[8]));
        } finally {
            dma.unmapAll();
        }
    }
}
