package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.internal.MessageDma;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * DMA to windows mapped without an fd travels as DMA_READ/DMA_WRITE from server to client while the
 * client keeps sending commands: the session must serve both directions at once.
 */
class FullDuplexDmaTest extends ServerTestBase {
    static final long IOVA = 0x10000, SIZE = 0x10000;
    static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    static final int CONTROL = 4, CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;

    private TestPeer clientWithMessageWindow() throws Exception {
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, IOVA, SIZE)).close();
        return c;
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + seed);
        }
        return b;
    }

    /** Spec layout of a DMA_READ reply: address u64, count u64, data. */
    static byte[] readReply(long address, byte[] data) {
        byte[] p = new byte[16 + data.length];
        MemorySegment s = MemorySegment.ofArray(p);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, address);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, data.length);
        System.arraycopy(data, 0, p, 16, data.length);
        return p;
    }

    @Test
    void commandsAreServedWhileTheServersDmaReadWaitsForTheClient() throws Exception {
        start();
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA + 0x100, 64, TestDevice.OP_READ));

        // The DMA_READ is outstanding; a REGION_READ must still be answered.
        byte[] vendor = c.read(CONFIG, 0, 4);
        assertThat(vendor).containsExactly(0x34, 0x12, 0x78, 0x56);
        assertThat(device.dmaResults).as("the device's read cannot finish before the client answers").isEmpty();

        TestPeer.Msg request = c.nextServerCommand();
        assertThat(request.command()).isEqualTo(Command.DMA_READ.code());
        assertThat(request.u64(0)).isEqualTo(IOVA + 0x100);
        assertThat(request.u64(8)).isEqualTo(64);
        byte[] data = pattern(64, 3);
        c.reply(request, readReply(IOVA + 0x100, data));

        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNull();
        assertThat(r.data()).containsExactly(data);
        // And the session is still in step.
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void qemu101DmaReadReplyWithU32CountIsAccepted() throws Exception {
        start();
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, 32, TestDevice.OP_READ));
        TestPeer.Msg request = c.nextServerCommand();
        byte[] data = pattern(32, 9);
        byte[] p = new byte[12 + 32];
        MemorySegment s = MemorySegment.ofArray(p);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, IOVA);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 8, 32);
        System.arraycopy(data, 0, p, 12, 32);
        c.reply(request, p);
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNull();
        assertThat(r.data()).containsExactly(data);
    }

    @Test
    void dmaWriteCarriesTheDataAndAcceptsAHeaderOnlyReply() throws Exception {
        start();
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA + 0x40, 16, TestDevice.OP_WRITE));
        TestPeer.Msg request = c.nextServerCommand();
        assertThat(request.command()).isEqualTo(Command.DMA_WRITE.code());
        assertThat(request.u64(0)).isEqualTo(IOVA + 0x40);
        assertThat(request.u64(8)).isEqualTo(16);
        assertThat(Arrays.copyOfRange(request.payload(), 16, 32)).containsExactly(pattern16());
        c.reply(request, new byte[0]); // QEMU 10.1: bare header
        assertThat(device.nextDmaResult().error()).isNull();
    }

    @Test
    void dmaWriteAcceptsTheSpecReply() throws Exception {
        start();
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, 16, TestDevice.OP_WRITE));
        TestPeer.Msg request = c.nextServerCommand();
        byte[] p = new byte[16];
        MemorySegment.ofArray(p).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, IOVA);
        MemorySegment.ofArray(p).set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 16);
        c.reply(request, p);
        assertThat(device.nextDmaResult().error()).isNull();
    }

    private static byte[] pattern16() {
        byte[] b = new byte[16];
        for (int i = 0; i < 16; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    @Test
    void anErrorReplyFailsTheDevicesReadWithThatErrno() throws Exception {
        start();
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, 8, TestDevice.OP_READ));
        c.replyError(c.nextServerCommand(), Errno.EFAULT);
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNotNull();
        assertThat(r.error().errno()).isEqualTo(Errno.EFAULT);
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aClientThatNeverAnswersTimesTheReadOut() throws Exception {
        start(options(Duration.ofMillis(200)));
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, 8, TestDevice.OP_READ));
        TestPeer.Msg ignored = c.nextServerCommand();
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNotNull();
        assertThat(r.error().errno()).isEqualTo(Errno.ETIMEDOUT);
        // A late answer matches nothing any more and is ignored; the session goes on.
        c.reply(ignored, readReply(IOVA, new byte[8]));
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void disconnectFailsAnOutstandingReadWithEnodevWithoutWaitingForTheTimeout() throws Exception {
        // The timeout is far beyond the device's bounded wait: only the disconnect can end the read in time.
        start(options(Duration.ofMinutes(10)));
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, 8, TestDevice.OP_READ));
        c.nextServerCommand();
        c.close();
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNotNull();
        assertThat(r.error().errno()).isEqualTo(Errno.ENODEV);
    }

    @Test
    void transfersLargerThanTheServersLimitAreSplitSoTheRepliesFitTheServer() throws Exception {
        // The client may accept 4 MiB per message, but its replies must fit what this server receives (1 MiB).
        start();
        TestPeer c = connect().negotiate("{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":4194304}}");
        long window = 4L << 20;
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x100000000L, window)).close();
        int length = 2 << 20;
        c.write(CONTROL, 0, TestDevice.dmaCommand(0x100000000L, length, TestDevice.OP_READ));
        byte[] all = pattern(length, 5);
        long done = 0;
        while (done < length) {
            TestPeer.Msg request = c.nextServerCommand();
            long address = request.u64(0);
            long count = request.u64(8);
            assertThat(count).as("DMA_READ count").isPositive().isLessThanOrEqualTo(ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE);
            assertThat(address).isEqualTo(0x100000000L + done);
            c.reply(request, readReply(address, Arrays.copyOfRange(all, (int) done, (int) (done + count))));
            done += count;
        }
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNull();
        assertThat(r.data()).isEqualTo(all);
    }

    @Test
    void messageDmaFromTheSessionThreadFailsFastInsteadOfDeadlocking() throws Exception {
        // The session thread cannot read the client's answer while it waits for it.
        start(options(Duration.ofMinutes(10)));
        TestPeer c = clientWithMessageWindow();
        int id = c.send(Command.REGION_WRITE, TestPeer.regionWrite(CONTROL, 0,
                TestDevice.dmaCommand(IOVA, 8, TestDevice.OP_READ_INLINE)));
        try (TestPeer.Msg reply = c.replyTo(id)) {
            assertThat(reply.isError()).isTrue();
            assertThat(reply.error()).isEqualTo(Errno.EDEADLK);
        }
        assertThat(c.hasStashed()).as("no DMA_READ was sent").isFalse();
    }

    /** The requests a transfer has in flight before any is answered (the test peer waits at most its bound for each). */
    private java.util.List<TestPeer.Msg> outstanding(TestPeer c, int expected) throws Exception {
        java.util.List<TestPeer.Msg> requests = new java.util.ArrayList<>();
        for (int i = 0; i < expected; i++) {
            requests.add(c.nextServerCommand());
        }
        return requests;
    }

    /**
     * Into native memory the session receives a reply's data straight into the device's buffer
     * when it is the reply it expects next (the oldest request): answered newest first, each pair
     * has one reply that is not (put back together from the receive buffer) and one that is.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "into {0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"heap", "native"})
    void aLargeReadKeepsTwoRequestsInFlightAndTakesRepliesInAnyOrder(String memory) throws Exception {
        start();
        TestPeer c = connect().negotiate("{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}");
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, IOVA, 1 << 20)).close();
        int length = 5 * (int) MessageDma.DMA_MESSAGE_LIMIT + 100;
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, length, memory.equals("native") ? TestDevice.OP_READ_NATIVE : TestDevice.OP_READ));
        byte[] all = pattern(length, 11);
        long done = 0;
        while (done < length) {
            java.util.List<TestPeer.Msg> requests = outstanding(c, (int) Math.min(MessageDma.READ_WINDOW,
                    (length - done + MessageDma.DMA_MESSAGE_LIMIT - 1) / MessageDma.DMA_MESSAGE_LIMIT));
            for (int i = requests.size() - 1; i >= 0; i--) { // newest first
                TestPeer.Msg request = requests.get(i);
                long address = request.u64(0), count = request.u64(8);
                assertThat(count).isLessThanOrEqualTo(MessageDma.DMA_MESSAGE_LIMIT);
                int from = (int) (address - IOVA);
                c.reply(request, readReply(address, Arrays.copyOfRange(all, from, from + (int) count)));
                done += count;
            }
        }
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNull();
        assertThat(r.data()).isEqualTo(all);
        assertThat(c.hasStashed()).isFalse();
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aLargeWriteSendsItsChunksAheadOfTheRepliesAndFailsOnTheFirstErrorOnlyAfterTheRest() throws Exception {
        start();
        // The client takes 64 KiB per message: four chunks, all sent before the first reply.
        TestPeer c = connect().negotiate("{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":65536}}");
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, IOVA, 1 << 20)).close();
        int length = 4 * (int) MessageDma.DMA_MESSAGE_LIMIT;
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, length, TestDevice.OP_WRITE));
        java.util.List<TestPeer.Msg> requests = outstanding(c, 4); // all four before any reply
        byte[] seen = new byte[length];
        for (TestPeer.Msg request : requests) {
            assertThat(request.command()).isEqualTo(Command.DMA_WRITE.code());
            long address = request.u64(0), count = request.u64(8);
            System.arraycopy(request.payload(), 16, seen, (int) (address - IOVA), (int) count);
        }
        for (int i = 0; i < length; i++) {
            assertThat(seen[i]).as("byte %d", i).isEqualTo((byte) i);
        }
        c.replyError(requests.get(1), Errno.EPERM);
        c.reply(requests.get(0), new byte[0]);
        assertThat(device.dmaResults.poll(200, java.util.concurrent.TimeUnit.MILLISECONDS))
                .as("the transfer waits for the requests still in flight").isNull();
        c.reply(requests.get(3), new byte[0]);
        c.reply(requests.get(2), new byte[0]);
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNotNull();
        assertThat(r.error().errno()).isEqualTo(Errno.EPERM);
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aShortOrMalformedReplyInAPipelinedReadFailsTheTransfer() throws Exception {
        start();
        TestPeer c = clientWithMessageWindow();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, (int) SIZE, TestDevice.OP_READ));
        TestPeer.Msg first = c.nextServerCommand();
        c.reply(first, readReply(first.u64(0), new byte[(int) first.u64(8) - 1])); // one byte short
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNotNull();
        assertThat(r.error().errno()).isEqualTo(Errno.EFAULT);
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aDisconnectInTheMiddleOfALargeTransferFailsItWithEnodev() throws Exception {
        start(options(Duration.ofMinutes(10)));
        TestPeer c = connect().negotiate("{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}");
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, IOVA, 1 << 20)).close();
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, 1 << 20, TestDevice.OP_READ));
        TestPeer.Msg first = c.nextServerCommand();
        c.reply(first, readReply(first.u64(0), new byte[(int) first.u64(8)]));
        c.nextServerCommand();
        c.close();
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNotNull();
        assertThat(r.error().errno()).isEqualTo(Errno.ENODEV);
        try (TestPeer next = client()) {
            assertThat(next.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
        }
    }

    @Test
    void writeChunksAreAsLargeAsTheClientTakes() throws Exception {
        start();
        TestPeer c = connect().negotiate("{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}");
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, IOVA, 4 << 20)).close();
        int length = (5 << 20) / 2;
        c.write(CONTROL, 0, TestDevice.dmaCommand(IOVA, length, TestDevice.OP_WRITE));
        long done = 0;
        while (done < length) {
            TestPeer.Msg request = c.nextServerCommand();
            long count = request.u64(8);
            assertThat(request.u64(0)).isEqualTo(IOVA + done);
            assertThat(count).isEqualTo(Math.min(1 << 20, length - done));
            c.reply(request, new byte[0]);
            done += count;
        }
        TestDevice.DmaResult r = device.nextDmaResult();
        assertThat(r.error()).isNull();
    }
}
