package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Vfio;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The session receives as much as the socket holds at once: commands sent back to back, with and
 * without fds, are still each served with exactly their own fds, and garbage after a good command
 * ends the connection only after that command.
 */
class PipelinedFdsTest extends ServerTestBase {
    static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    static final long PAGE = 0x1000;

    @Test
    void commandsSentBackToBackKeepTheirOwnFds() throws Exception {
        start();
        TestPeer c = client();
        List<Integer> ids = new ArrayList<>();
        List<Long> withFd = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            long iova = 0x100000L + i * 0x10000L;
            if (i % 3 == 1) {
                ids.add(c.send(Command.DMA_MAP, DmaMap.of(RW, 0, iova, PAGE))); // no fd: a window reached by messages
            } else {
                try (Fd memfd = Memfd.create("pipelined-" + i, PAGE)) {
                    ids.add(c.send(Command.DMA_MAP, DmaMap.of(RW, 0, iova, PAGE), memfd));
                }
                withFd.add(iova);
            }
            c.send(Command.REGION_WRITE.code(), TestPeer.regionWrite(0, 0x20, new byte[] {(byte) i}), true, List.of());
        }
        ids.add(c.send(Command.REGION_READ, TestPeer.regionRead(0, 0x20, 1)));
        for (int i = 0; i < ids.size(); i++) {
            try (TestPeer.Msg m = c.receive()) {
                assertThat(m.id()).isEqualTo(ids.get(i));
                assertThat(m.isError()).as("reply %d", i).isFalse();
            }
        }
        List<DmaWindow> windows = device.dmaSpace().windows();
        assertThat(windows).hasSize(24);
        for (DmaWindow w : windows) {
            assertThat(w.mapped()).as("window 0x%x", w.iova()).isEqualTo(withFd.contains(w.iova()));
        }
        assertThat(c.read(0, 0x20, 1)).containsExactly(23);
    }

    @Test
    void garbageRightBehindAGoodCommandIsRefusedAfterIt() throws Exception {
        start();
        TestPeer c = client();
        byte[] good = TestPeer.message(1, Command.REGION_READ.code(), 0, 0, TestPeer.regionRead(7, 0, 2));
        byte[] bad = new byte[Header.SIZE];
        Header.write(java.lang.foreign.MemorySegment.ofArray(bad), 2, Command.REGION_READ.code(), Header.SIZE, 0x100, 0);
        byte[] both = new byte[good.length + bad.length];
        System.arraycopy(good, 0, both, 0, good.length);
        System.arraycopy(bad, 0, both, good.length, bad.length);
        try (Fd memfd = Memfd.create("with-garbage", PAGE)) {
            c.sendRaw(both, List.of(memfd));
        }
        assertThat(c.serverHungUp()).as("unknown flags end the connection").isTrue();
        try (TestPeer next = client()) {
            assertThat(next.read(7, 0, 2)).containsExactly(0x34, 0x12);
        }
    }
}
