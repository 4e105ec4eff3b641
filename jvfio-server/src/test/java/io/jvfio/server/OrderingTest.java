package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.protocol.Command;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.Vfio;
import java.util.List;
import org.junit.jupiter.api.Test;

/** NO_REPLY and strict in-order answers. */
class OrderingTest extends ServerTestBase {
    static final int BAR0 = 0;

    @Test
    void aPostedWriteGetsNoReplyAtAll() throws Exception {
        start();
        TestPeer c = client();
        c.send(Command.REGION_WRITE.code(), TestPeer.regionWrite(BAR0, 0x10, new byte[] {1, 2, 3, 4}), true, List.of());
        int read = c.send(Command.REGION_READ, TestPeer.regionRead(BAR0, 0x10, 4));
        try (TestPeer.Msg first = c.receive()) {
            assertThat(first.id()).as("the first message back answers the READ").isEqualTo(read);
            assertThat(first.isError()).isFalse();
            assertThat(first.payload()).endsWith(1, 2, 3, 4);
        }
    }

    @Test
    void aFailingPostedWriteGetsNoReplyEither() throws Exception {
        start();
        TestPeer c = client();
        // Past the end of BAR 0, and to a region that does not exist: both fail, both silently.
        c.send(Command.REGION_WRITE.code(), TestPeer.regionWrite(BAR0, 0x1000, new byte[] {1}), true, List.of());
        c.send(Command.REGION_WRITE.code(), TestPeer.regionWrite(42, 0, new byte[] {1}), true, List.of());
        int read = c.send(Command.REGION_READ, TestPeer.regionRead(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2));
        try (TestPeer.Msg first = c.receive()) {
            assertThat(first.id()).isEqualTo(read);
            assertThat(first.isError()).isFalse();
        }
    }

    @Test
    void pipelinedCommandsAreAnsweredInOrder() throws Exception {
        start();
        TestPeer c = client();
        c.write(BAR0, 0, new byte[] {9, 8, 7, 6, 5, 4, 3, 2});
        int[] ids = new int[50];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = c.send(Command.REGION_READ, TestPeer.regionRead(BAR0, i % 8, 1));
        }
        for (int i = 0; i < ids.length; i++) {
            try (TestPeer.Msg m = c.receive()) {
                assertThat(m.id()).as("reply %d", i).isEqualTo(ids[i]);
                assertThat(m.isError()).isFalse();
                assertThat(m.payload()[RegionAccess.SIZE]).isEqualTo((byte) (9 - i % 8));
            }
        }
    }

    @Test
    void postedWritesAreAppliedBeforeALaterRead() throws Exception {
        start();
        TestPeer c = client();
        for (int i = 0; i < 100; i++) {
            c.send(Command.REGION_WRITE.code(), TestPeer.regionWrite(BAR0, 0x20, new byte[] {(byte) i}), true, List.of());
        }
        assertThat(c.read(BAR0, 0x20, 1)).containsExactly(99);
        assertThat(device.writeLog).hasSize(100);
    }
}
