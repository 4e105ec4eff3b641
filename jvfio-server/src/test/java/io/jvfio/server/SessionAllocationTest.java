package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.testing.Allocations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The session thread allocates nothing per message with the deadlines and the callback watchdog
 * on (their defaults): a device whose BAR is plain memory reads the thread's allocation counter at
 * two marked region reads with thousands of ordinary ones between them.
 */
class SessionAllocationTest extends ServerTestBase {
    private static final int MARK = 0xff0, MESSAGES = 20_000;

    /** BAR 0: 4 KiB of memory; reads of {@link #MARK} sample the session thread's allocated bytes. */
    static final class MarkingDevice extends PciDevice {
        final long[] marks = new long[2];
        private int taken;

        MarkingDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5679).classCode(0xff0000)
                    .bar(Bar.memory32(0, 0x1000)).build());
            MemoryRegionHandler memory = new MemoryRegionHandler(Arena.ofAuto().allocate(0x1000, 8));
            bar(0, new RegionHandler() {
                @Override
                public void read(long offset, MemorySegment dst) {
                    if (offset == MARK && taken < marks.length) {
                        marks[taken++] = Allocations.currentThread();
                    }
                    memory.read(offset, dst);
                }

                @Override
                public void write(long offset, MemorySegment src) {
                    memory.write(offset, src);
                }
            });
        }
    }

    @Test
    void regionReadsAllocateNothingOnTheSessionThread() throws Exception {
        assertThat(ServerOptions.defaults().deadlines()).isEqualTo(Deadlines.defaults());
        MarkingDevice marking = new MarkingDevice();
        server = VfioUserServer.bind(socketPath(), marking, ServerOptions.defaults());
        server.start();
        TestPeer c = client();
        byte[] data = {1, 2, 3, 4};
        for (int i = 0; i < MESSAGES; i++) { // warm-up: the paths compiled, the lazy parts made
            c.write(0, 0, data);
            c.read(0, 0, 4);
            c.read(0, 0, 4);
        }
        c.read(0, MARK, 4);
        for (int i = 0; i < 2 * MESSAGES; i++) { // same-sized messages: the session's cached views fit every one
            c.read(0, 0, 4);
        }
        c.read(0, MARK, 4);
        long allocated = marking.marks[1] - marking.marks[0];
        assertThat(allocated).as("bytes the session thread allocated over %d messages (marks %s)", MESSAGES,
                Arrays.toString(marking.marks)).isLessThan(8192);
    }
}
