package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Messages that cannot be framed end the connection cleanly; the server goes on to the next client. */
class FramingTest extends ServerTestBase {

    /** One client at a time: the next one is served, then leaves. */
    private void nextClientIsServed() throws Exception {
        try (TestPeer next = client()) {
            assertThat(next.read(7, 0, 2)).containsExactly(0x34, 0x12);
        }
    }

    private static byte[] header(int id, int command, long size, int flags) {
        byte[] h = new byte[Header.SIZE];
        Header.write(MemorySegment.ofArray(h), id, command, size, flags, 0);
        return h;
    }

    @Test
    void anUnknownCommandGetsEnosysAndTheSessionContinues() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.VERSION, new byte[0], List.of())).isNotZero(); // (second VERSION, any errno)
        int id = c.send(14, new byte[8], false, List.of()); // removed DIRTY_PAGES
        try (TestPeer.Msg m = c.replyTo(id)) {
            assertThat(m.isError()).isTrue();
            assertThat(m.error()).isEqualTo(Errno.ENOSYS);
            assertThat(m.command()).isEqualTo(14);
        }
        id = c.send(999, new byte[0], false, List.of());
        try (TestPeer.Msg m = c.replyTo(id)) {
            assertThat(m.error()).isEqualTo(Errno.ENOSYS);
        }
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void msgSizeBelowTheHeaderDisconnects() throws Exception {
        start();
        TestPeer c = client();
        c.sendRaw(header(1, Command.REGION_READ.code(), 8, 0));
        assertThat(c.serverHungUp()).isTrue();
        nextClientIsServed();
    }

    @Test
    void msgSizeAboveTheLimitDisconnects() throws Exception {
        start();
        TestPeer c = client();
        c.sendRaw(header(1, Command.REGION_WRITE.code(), 0xFFFF_FFF0L, 0));
        assertThat(c.serverHungUp()).isTrue();
        nextClientIsServed();
    }

    @Test
    void unknownFlagsDisconnect() throws Exception {
        start();
        TestPeer c = client();
        c.sendRaw(header(1, Command.DEVICE_RESET.code(), Header.SIZE, 0x100));
        assertThat(c.serverHungUp()).isTrue();
        nextClientIsServed();
    }

    @Test
    void aClientThatLeavesHalfwayThroughAMessageDoesNotStopTheServer() throws Exception {
        start();
        TestPeer c = client();
        byte[] write = TestPeer.message(5, Command.REGION_WRITE.code(), 0, 0, TestPeer.regionWrite(0, 0, new byte[64]));
        c.sendRaw(Arrays.copyOf(write, 40));
        c.close();
        nextClientIsServed();
        TestPeer d = connect();
        d.sendRaw(new byte[7]); // not even a header
        d.close();
        nextClientIsServed();
    }

    @Test
    void aReplyWithAnUnknownIdIsIgnored() throws Exception {
        start();
        TestPeer c = client();
        c.sendRaw(TestPeer.message(0x7777, Command.DMA_READ.code(), Header.TYPE_REPLY, 0, new byte[24]));
        c.sendRaw(TestPeer.message(0x7778, Command.DMA_WRITE.code(), Header.TYPE_REPLY | Header.FLAG_ERROR, Errno.EIO, new byte[0]));
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void commandsTheClientMayNotSendAreRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.DMA_READ, new byte[16], List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
    }
}
