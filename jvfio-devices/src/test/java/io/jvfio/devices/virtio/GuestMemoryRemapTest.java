package io.jvfio.devices.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.server.Access;
import io.jvfio.server.internal.DmaSpace;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * QEMU unmaps and maps guest RAM again when the firmware reshapes memory; a virtqueue access
 * that lands in that gap waits it out instead of breaking the device.
 */
class GuestMemoryRemapTest {
    private static final long IOVA = 0x10_0000, SIZE = 0x1_0000;

    @Test
    void anAccessDuringAnUnmapMapGapSucceedsOnceTheWindowIsBack() throws Exception {
        int fdsBefore = Fd.openFdCountOfProcess();
        DmaSpace dma = new DmaSpace(16);
        try (Fd memfd = Memfd.create("guest-ram", SIZE); Mapping ours = Mapping.map(memfd, 0, SIZE, true)) {
            ours.segment().set(ValueLayout.JAVA_SHORT_UNALIGNED, 0x102, (short) 0x1234);
            dma.map(IOVA, SIZE, Access.READ_WRITE, memfd.duplicate(), 0);
            GuestMemory memory = new GuestMemory(dma);
            GuestMemory.View ring = memory.view(IOVA + 0x100, 0x100, false);
            assertThat(ring.isMapped()).isTrue();

            dma.unmap(IOVA, SIZE);                      // the gap opens ...
            Thread remap = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(50);
                    dma.map(IOVA, SIZE, Access.READ_WRITE, memfd.duplicate(), 0);   // ... and closes
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertThat(ring.u16(2)).isEqualTo(0x1234);
            remap.join();
            assertThat(ring.isMapped()).as("the view took the new mapping").isTrue();
        } finally {
            dma.unmapAll();
        }
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(fdsBefore);
    }

    @Test
    void memoryThatStaysAwayIsAFault() throws Exception {
        DmaSpace dma = new DmaSpace(16);
        try (Fd memfd = Memfd.create("guest-ram", SIZE)) {
            dma.map(IOVA, SIZE, Access.READ_WRITE, memfd.duplicate(), 0);
            GuestMemory.View ring = new GuestMemory(dma).view(IOVA, 0x100, false);
            dma.unmap(IOVA, SIZE);
            assertThatThrownBy(() -> ring.u16(0)).isInstanceOf(VirtioFault.class).hasMessageContaining("0x100000");
        }
    }
}
