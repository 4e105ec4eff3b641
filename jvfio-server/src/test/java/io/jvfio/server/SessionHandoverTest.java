package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Vfio;
import io.jvfio.linux.Fd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.testing.Await;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Where a session hands its client over. While the client's next commands are already read: under
 * steady traffic one recvmsg takes several messages and the start of another, and waiting for a
 * moment with none would wait for ever, so those bytes cross to the successor, which handles them
 * first. And while the client is idle: the session must not wait for its input unboundedly.
 */
class SessionHandoverTest extends ServerTestBase {
    private static final int BAR0 = Vfio.PCI_BAR0_REGION_INDEX;
    /** A write here is held in the device until the test lets it go. */
    private static final int GATE = 0x100;
    private final GatedDevice before = new GatedDevice(), after = new GatedDevice();
    private Path control;
    private TestPeer c;

    /** BAR 0 of plain memory, migratable; a write at {@link #GATE} waits for {@link #open}. */
    private static final class GatedDevice extends PciDevice implements Migratable {
        final byte[] memory = new byte[0x1000];
        final Semaphore atGate = new Semaphore(0);
        final CountDownLatch open = new CountDownLatch(1);
        /** Every region write the device carried out: none may run twice. */
        final AtomicInteger writes = new AtomicInteger();

        GatedDevice() {
            super(ConfigSpace.builder(ConfigSpace.Size.PCI).vendorId(0x1234).deviceId(0x5679).classCode(0xff0000)
                    .bar(Bar.memory32(0, 0x1000)).build());
            bar(0, new RegionHandler() {
                @Override
                public void read(long offset, MemorySegment dst) {
                    synchronized (memory) {
                        MemorySegment.copy(MemorySegment.ofArray(memory), offset, dst, 0, dst.byteSize());
                    }
                }

                @Override
                public void write(long offset, MemorySegment src) {
                    if (offset == GATE) {
                        atGate.release();
                        awaitOpen();
                    }
                    synchronized (memory) {
                        MemorySegment.copy(src, 0, MemorySegment.ofArray(memory), offset, src.byteSize());
                    }
                    writes.incrementAndGet();
                }
            });
        }

        private void awaitOpen() {
            try {
                assertThat(open.await(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS)).as("the gate opened").isTrue();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }

        byte at(int offset) {
            synchronized (memory) {
                return memory[offset];
            }
        }

        @Override
        public void saveState(StateWriter out) {
            synchronized (memory) {
                out.section("gated.memory", 1).bytes(memory.clone());
            }
        }

        @Override
        public void loadState(StateReader in) throws VfioException {
            byte[] loaded = in.section("gated.memory").requireVersion(1).bytes(memory.length);
            synchronized (memory) {
                System.arraycopy(loaded, 0, memory, 0, memory.length);
            }
        }
    }

    private static byte[] concat(byte[]... parts) {
        byte[] all = new byte[Arrays.stream(parts).mapToInt(p -> p.length).sum()];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    private static byte[] write(int id, int offset, int value) {
        return TestPeer.message(id, Command.REGION_WRITE.code(), 0, 0, TestPeer.regionWrite(BAR0, offset, new byte[] {(byte) value}));
    }

    @BeforeEach
    void serveHandingOverAndConnect() throws Exception {
        control = dir.resolve("dev.ctl");
        server = VfioUserServer.bind(socketPath(), before, ServerOptions.defaults());
        server.offerHandover(control);
        server.start();
        c = client();
    }

    @Test
    void anIdleClientIsHandedOverAndServedByTheSuccessor() throws Exception {
        c.write(BAR0, 0x20, new byte[] {7});
        // The client now sends nothing: the session waits for its input, with the default deadlines.
        VfioUserServer next = closeLater(VfioUserServer.takeOver(control, after, ServerOptions.defaults()));
        next.start();
        assertThat(Await.until(Duration.ofMillis(TestPeer.WAIT_MILLIS), server::handedOver)).as("the old server handed over").isTrue();
        assertThat(c.read(BAR0, 0x20, 1)).as("read through the successor").containsExactly(7);
        assertThat(before.at(0x20)).isEqualTo((byte) 7);
    }

    @Test
    void commandsReadButNotHandledWhenTheServerIsReplacedAreHandledByTheSuccessorInOrder() throws Exception {
        // One sendmsg, so one recvmsg: the held write, two writes behind it, and the first bytes of a read.
        byte[] held = write(1, GATE, 1), second = write(2, 0x10, 2), third = write(3, 0x10, 3);
        byte[] read = TestPeer.message(4, Command.REGION_READ.code(), 0, 0, TestPeer.regionRead(BAR0, 0x10, 1));
        int partial = Header.SIZE + 2;
        c.sendRaw(concat(held, second, third, Arrays.copyOf(read, partial)));
        assertThat(before.atGate.tryAcquire(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS)).as("the held write reached the device").isTrue();

        try (LogLines log = new LogLines()) {
            CompletableFuture<VfioUserServer> successor = CompletableFuture.supplyAsync(() -> {
                try {
                    return VfioUserServer.takeOver(control, after, ServerOptions.defaults());
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            log.await("successor connected", "handing over at the next message boundary");
            before.open.countDown(); // the old server finishes the held write, then hands over
            VfioUserServer next = closeLater(successor.get(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS));
            next.start();
            assertThat(log.await("handed over to the successor"))
                    .contains((second.length + third.length + partial) + " bytes of client input not yet handled");

            c.sendRaw(Arrays.copyOfRange(read, partial, read.length));
            for (int id = 1; id <= 3; id++) {
                try (TestPeer.Msg reply = c.replyTo(id)) {
                    assertThat(reply.isError()).as("write %d", id).isFalse();
                }
            }
            try (TestPeer.Msg reply = c.replyTo(4)) {
                assertThat(reply.payload()[reply.payload().length - 1]).as("the read sees the writes in order").isEqualTo((byte) 3);
            }
        }
        assertThat(before.at(GATE)).as("the held write, by the old server").isEqualTo((byte) 1);
        assertThat(before.at(0x10)).as("the writes behind it were left to the successor").isZero();
        assertThat(after.at(GATE)).as("the held write, in the state").isEqualTo((byte) 1);
        assertThat(after.at(0x10)).isEqualTo((byte) 3);
        assertThat(Await.until(Duration.ofMillis(TestPeer.WAIT_MILLIS), server::handedOver)).as("the old server handed over").isTrue();
    }

    // The control protocol's frames, as a successor that dies at a chosen step sends and reads them.
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int HELLO = 1, STATE = 2, LOADED = 3, COMMIT = 5, FRAME_MAGIC = 0x4a564849;

    private static void sendFrame(UnixSocket control, int kind) throws Exception {
        MemorySegment frame = MemorySegment.ofArray(new byte[16]);
        frame.set(LE_INT, 0, FRAME_MAGIC);
        frame.set(LE_INT, 4, kind);
        control.send(frame);
    }

    /** Reads a whole frame, closing the fds it carries; its kind. */
    private static int receiveFrame(UnixSocket control) throws Exception {
        MemorySegment header = MemorySegment.ofArray(new byte[16]);
        List<Fd> fds = new ArrayList<>();
        try {
            assertThat(control.receiveFully(header, fds)).as("a frame from the running server").isTrue();
            int length = header.get(LE_INT, 12), fdCount = header.get(LE_INT, 8);
            if (length > 0) {
                assertThat(control.receiveFully(MemorySegment.ofArray(new byte[length]), fds)).isTrue();
            }
            while (fds.size() < fdCount) {
                assertThat(control.receiveFully(MemorySegment.ofArray(new byte[1]), fds)).isTrue();
            }
            return header.get(LE_INT, 4);
        } finally {
            fds.forEach(Fd::close);
        }
    }

    /** Sends a held write, two writes behind it and the start of a read in one go; returns once the held write is in the device. */
    private byte[] holdAWriteWithCommandsBehindIt() throws Exception {
        byte[] read = TestPeer.message(4, Command.REGION_READ.code(), 0, 0, TestPeer.regionRead(BAR0, 0x10, 1));
        c.sendRaw(concat(write(1, GATE, 1), write(2, 0x10, 2), write(3, 0x10, 3), Arrays.copyOf(read, Header.SIZE + 2)));
        assertThat(before.atGate.tryAcquire(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS)).as("the held write reached the device").isTrue();
        return Arrays.copyOfRange(read, Header.SIZE + 2, read.length);
    }

    @Test
    void aSuccessorThatDiesBeforeTheCommitLeavesEveryCommandToTheOldServerAnsweredOnce() throws Exception {
        byte[] restOfRead = holdAWriteWithCommandsBehindIt();
        try (LogLines log = new LogLines(); UnixSocket successor = UnixSocket.connect(control)) {
            sendFrame(successor, HELLO);
            log.await("successor connected", "handing over at the next message boundary");
            before.open.countDown();
            // The state came, with the two writes and the partial read in it: a successor would load it now, and dies
            // instead, before its LOADED.
            assertThat(receiveFrame(successor)).as("frame kind STATE").isEqualTo(STATE);
            successor.close();
            log.await("hand-over failed, serving on");
        }
        c.sendRaw(restOfRead);
        for (int id = 1; id <= 3; id++) {
            try (TestPeer.Msg reply = c.replyTo(id)) {
                assertThat(reply.isError()).as("write %d", id).isFalse();
            }
        }
        try (TestPeer.Msg reply = c.replyTo(4)) {
            assertThat(reply.payload()[reply.payload().length - 1]).as("the read sees the writes in order").isEqualTo((byte) 3);
        }
        assertThat(c.read(BAR0, 0x20, 1)).as("the next command, answered by the old server with no reply before it").containsExactly(0);
        assertThat(before.writes.get()).as("each write carried out once, by the old server").isEqualTo(3);
        assertThat(server.handedOver()).isFalse();
        assertThat(Await.until(Duration.ofMillis(TestPeer.WAIT_MILLIS), () -> control.toFile().exists()))
                .as("the old server listens for the next successor").isTrue();
    }

    @Test
    void onceItHasCommittedTheOldServerNeverRunsTheDeviceAgainEvenIfTheSuccessorDies() throws Exception {
        holdAWriteWithCommandsBehindIt();
        try (LogLines log = new LogLines(); UnixSocket successor = UnixSocket.connect(control)) {
            sendFrame(successor, HELLO);
            log.await("successor connected", "handing over at the next message boundary");
            before.open.countDown();
            assertThat(receiveFrame(successor)).as("frame kind STATE").isEqualTo(STATE);
            sendFrame(successor, LOADED);
            assertThat(receiveFrame(successor)).as("frame kind COMMIT").isEqualTo(COMMIT);
            assertThat(Await.until(Duration.ofMillis(TestPeer.WAIT_MILLIS), server::handedOver)).as("the old server handed over").isTrue();
        } // the successor dies with the COMMIT, before its device starts: no server owns the device
        assertThat(c.serverHungUp()).as("the client's connection ends, as when its server is killed").isTrue();
        assertThat(before.writes.get()).as("only the held write, before the hand-over: the commands behind it ran nowhere").isEqualTo(1);
    }
}
