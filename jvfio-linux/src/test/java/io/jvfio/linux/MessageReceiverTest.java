package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Buffered receive: messages framed by a 4-byte header holding the whole length; several per
 * recvmsg, fds given to the message whose sendmsg carried them, leftovers kept, garbage refused.
 */
class MessageReceiverTest extends FdLeakCheck {
    private static final int HEADER = 4;
    private static final long MAX = 1 << 16;

    private UnixSocket sender;
    private UnixSocket receiving;
    private final Arena arena = Arena.ofShared();
    private final List<Fd> got = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool();

    /** Bad when the length is below the header, above MAX, or 0xdead (garbage). */
    private static long length(MemorySegment header) throws IOException {
        int length = header.get(JAVA_INT.withByteAlignment(1), 0);
        if (length < HEADER || length > MAX || length == 0xdead) {
            throw new IOException("bad length " + length);
        }
        return length;
    }

    @BeforeEach
    void pair() throws LinuxException {
        UnixSocket[] pair = UnixSocket.pair();
        sender = pair[0];
        receiving = pair[1];
    }

    @AfterEach
    void close() throws Exception {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        got.forEach(Fd::close);
        sender.close();
        receiving.close();
        arena.close();
    }

    private MessageReceiver<IOException> receiver(long bufferSize) {
        return new MessageReceiver<>(receiving, arena.allocate(bufferSize, 8), HEADER, MAX, MessageReceiverTest::length);
    }

    /** A message of {@code size} bytes: the length, then bytes counting up from {@code seed}. */
    private static MemorySegment message(int size, int seed) {
        MemorySegment m = MemorySegment.ofArray(new byte[size]);
        m.set(JAVA_INT.withByteAlignment(1), 0, size);
        for (int i = HEADER; i < size; i++) {
            m.set(JAVA_BYTE, i, (byte) (seed + i));
        }
        return m;
    }

    private Fd labelled(int label) throws LinuxException {
        Fd memfd = Memfd.create("label", 8);
        MemorySegment value = MemorySegment.ofArray(new byte[4]);
        value.set(JAVA_INT.withByteAlignment(1), 0, label);
        Linux.pwrite(memfd, value, 0);
        return memfd;
    }

    private static int label(Fd fd) throws LinuxException {
        MemorySegment value = MemorySegment.ofArray(new byte[4]);
        Linux.pread(fd, value, 0);
        return value.get(JAVA_INT.withByteAlignment(1), 0);
    }

    private void send(MemorySegment message, int... labels) throws LinuxException {
        List<Fd> fds = new ArrayList<>();
        for (int l : labels) {
            fds.add(labelled(l));
        }
        try {
            sender.send(message, fds);
        } finally {
            fds.forEach(Fd::close);
        }
    }

    private List<Integer> labelsOf(List<Fd> fds) throws LinuxException {
        List<Integer> labels = new ArrayList<>();
        for (Fd fd : fds) {
            labels.add(label(fd));
        }
        return labels;
    }

    private void expect(MessageReceiver<IOException> r, int size, int seed, Integer... labels) throws Exception {
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK)).isEqualTo(MessageReceiver.MESSAGE);
        got.addAll(fds);
        MemorySegment m = r.message();
        assertThat(m.toArray(JAVA_BYTE)).isEqualTo(message(size, seed).toArray(JAVA_BYTE));
        assertThat(r.body().byteSize()).isEqualTo(size - HEADER);
        assertThat(labelsOf(fds)).containsExactly(labels);
    }

    /**
     * Messages of alternating sizes, alone or queued behind one another (posted writes), come out
     * at the front of the buffer in the same view objects for each size: nothing is allocated per message.
     */
    @Test
    void mixedSizesAndQueuedMessagesReuseOneViewPerSize() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        MemorySegment[] views = new MemorySegment[64], bodies = new MemorySegment[64];
        for (int round = 0; round < 3; round++) {
            for (int size : new int[] {36, 20, 40}) {
                send(message(size, round));
                expect(r, size, round);
                checkSameView(r, views, bodies, size);
            }
            MemorySegment queued = MemorySegment.ofArray(new byte[36 + 20 + 40]);
            MemorySegment.copy(message(36, round), 0, queued, 0, 36);
            MemorySegment.copy(message(20, round), 0, queued, 36, 20);
            MemorySegment.copy(message(40, round), 0, queued, 56, 40);
            send(queued);
            for (int size : new int[] {36, 20, 40}) {
                expect(r, size, round);
                checkSameView(r, views, bodies, size);
            }
        }
        r.close();
    }

    private static void checkSameView(MessageReceiver<IOException> r, MemorySegment[] views, MemorySegment[] bodies, int size) {
        if (views[size] == null) {
            views[size] = r.message();
            bodies[size] = r.body();
        }
        assertThat(r.message()).as("the view of a %d-byte message", size).isSameAs(views[size]);
        assertThat(r.body()).as("the body of a %d-byte message", size).isSameAs(bodies[size]);
    }

    @Test
    void messagesQueuedTogetherComeOutOneByOneFromOneReceive() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        MemorySegment both = MemorySegment.ofArray(new byte[36 + 20]);
        MemorySegment.copy(message(36, 1), 0, both, 0, 36);
        MemorySegment.copy(message(20, 2), 0, both, 36, 20);
        send(both);
        expect(r, 36, 1);
        assertThat(r.buffered()).as("the second message came with the first").isEqualTo(20);
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.BUFFERED)).isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.message().byteSize()).isEqualTo(20);
        assertThat(r.next(fds, MessageReceiver.Wait.BUFFERED)).isEqualTo(MessageReceiver.NOTHING);
        r.close();
    }

    @Test
    void fdsGoToTheMessageThatCarriedThemWhenManyAreQueued() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        send(message(40, 1));
        send(message(24, 2), 10, 11);
        send(message(16, 3));
        send(message(300, 4), 12);
        send(message(8, 5), 13);
        send(message(8, 6), 14);
        send(message(50, 7));
        expect(r, 40, 1);
        expect(r, 24, 2, 10, 11);
        expect(r, 16, 3);
        expect(r, 300, 4, 12);
        expect(r, 8, 5, 13);
        expect(r, 8, 6, 14);
        expect(r, 50, 7);
        r.close();
    }

    @Test
    void fdsSentWithTheHeaderBelongToThatMessageWhenItsPayloadComesSeparately() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        MemorySegment m = message(100, 9);
        send(message(10, 8));
        send(m.asSlice(0, HEADER), 20);
        send(m.asSlice(HEADER, 50));
        send(m.asSlice(HEADER + 50));
        send(message(12, 10), 21);
        expect(r, 10, 8);
        expect(r, 100, 9, 20);
        expect(r, 12, 10, 21);
        r.close();
    }

    @Test
    void aMessageLargerThanTheBufferGrowsIt() throws Exception {
        MessageReceiver<IOException> r = receiver(64);
        Future<?> sending = threads.submit(() -> {
            send(message(10, 1));
            send(message(40_000, 2), 30);
            send(message(10, 3));
            return null;
        });
        expect(r, 10, 1);
        expect(r, 40_000, 2, 30);
        expect(r, 10, 3);
        sending.get(10, TimeUnit.SECONDS);
        r.close();
    }

    @Test
    void whatOneReceiverHoldsBeyondItsMessageIsHandedToAnotherOnTheSameSocketWhichGoesOnFromThere() throws Exception {
        MessageReceiver<IOException> old = receiver(4096);
        MemorySegment third = message(90, 3);
        MemorySegment piled = MemorySegment.ofArray(new byte[30 + 20 + 40]);
        MemorySegment.copy(message(30, 1), 0, piled, 0, 30);
        MemorySegment.copy(message(20, 2), 0, piled, 30, 20);
        MemorySegment.copy(third, 0, piled, 50, 40);
        send(piled);
        expect(old, 30, 1);
        byte[] handedOn = old.unconsumed().toArray(JAVA_BYTE);
        assertThat(handedOn).as("the second message and the third's first 40 bytes")
                .isEqualTo(piled.asSlice(30).toArray(JAVA_BYTE));
        old.close();

        MessageReceiver<IOException> successor = receiver(32);
        successor.preload(MemorySegment.ofArray(handedOn)); // more than its buffer
        send(third.asSlice(40), 50);
        expect(successor, 20, 2);
        expect(successor, 90, 3, 50);
        assertThatThrownBy(() -> successor.preload(MemorySegment.ofArray(new byte[4])))
                .isInstanceOf(IllegalStateException.class);
        successor.close();
    }

    @Test
    void bytesWhoseFdsWaitForTheirMessageCannotBeHandedOn() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        MemorySegment second = message(64, 2);
        send(message(16, 1));
        send(second.asSlice(0, 10), 60);
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK)).isEqualTo(MessageReceiver.MESSAGE);
        while (r.buffered() < 10) {
            assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT)).isEqualTo(MessageReceiver.NOTHING);
        }
        assertThat(r.unconsumed()).as("the fd would be lost").isNull();
        send(second.asSlice(10));
        expect(r, 64, 2, 60);
        assertThat(r.unconsumed().byteSize()).as("nothing beyond the message").isZero();
        r.close();
    }

    @Test
    void aPartialMessageIsKeptAcrossCallsThatDoNotWait() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT)).isEqualTo(MessageReceiver.NOTHING);
        MemorySegment m = message(64, 5);
        send(m.asSlice(0, 2), 40);
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT)).isEqualTo(MessageReceiver.NOTHING);
        send(m.asSlice(2, 30));
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT)).isEqualTo(MessageReceiver.NOTHING);
        assertThat(fds).as("fds wait for their message").isEmpty();
        send(m.asSlice(32));
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT)).isEqualTo(MessageReceiver.MESSAGE);
        got.addAll(fds);
        assertThat(r.message().toArray(JAVA_BYTE)).isEqualTo(m.toArray(JAVA_BYTE));
        assertThat(labelsOf(fds)).containsExactly(40);
        r.close();
    }

    @Test
    void aTimedReceiveGivesUpAfterTheSocketsTimeout() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        receiving.setReceiveTimeout(Duration.ofMillis(30));
        List<Fd> fds = new ArrayList<>();
        long start = System.nanoTime();
        assertThat(r.next(fds, MessageReceiver.Wait.TIMED)).isEqualTo(MessageReceiver.NOTHING);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(20_000_000L);
        send(message(20, 1));
        assertThat(r.next(fds, MessageReceiver.Wait.TIMED)).isEqualTo(MessageReceiver.MESSAGE);
        // The plain receives still wait past the timeout.
        Future<?> late = threads.submit(() -> {
            Thread.sleep(80);
            send(message(4, 0));
            return null;
        });
        MemorySegment four = MemorySegment.ofArray(new byte[4]);
        assertThat(receiving.receiveFully(four, fds)).isTrue();
        late.get(10, TimeUnit.SECONDS);
        r.close();
    }

    @Test
    void aSteppedReceiveReturnsAfterEachPieceOfAMessageAndWholeMessagesAtOnce() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        receiving.setReceiveTimeout(Duration.ofSeconds(10)); // never reached: every step below has data waiting
        List<Fd> fds = new ArrayList<>();
        MemorySegment m = message(64, 9);
        send(m.asSlice(0, 2), 41);
        assertThat(r.next(fds, MessageReceiver.Wait.TIMED_STEP)).as("half a header").isEqualTo(MessageReceiver.NOTHING);
        assertThat(r.buffered()).isEqualTo(2);
        send(m.asSlice(2, 20));
        assertThat(r.next(fds, MessageReceiver.Wait.TIMED_STEP)).as("header and part of the body").isEqualTo(MessageReceiver.NOTHING);
        assertThat(r.buffered()).isEqualTo(22);
        assertThat(fds).isEmpty();
        send(m.asSlice(22));
        assertThat(r.next(fds, MessageReceiver.Wait.TIMED_STEP)).isEqualTo(MessageReceiver.MESSAGE);
        got.addAll(fds);
        assertThat(r.message().toArray(JAVA_BYTE)).isEqualTo(m.toArray(JAVA_BYTE));
        assertThat(labelsOf(fds)).containsExactly(41);
        send(message(30, 2));
        assertThat(r.next(fds, MessageReceiver.Wait.TIMED_STEP)).as("a whole message in one step").isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.buffered()).isZero();
        r.close();
    }

    @Test
    void endOfStreamAtABoundaryIsTheEndAndInsideAMessageIsAnError() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        send(message(20, 1));
        sender.shutdown();
        expect(r, 20, 1);
        assertThat(r.next(new ArrayList<>(), MessageReceiver.Wait.BLOCK)).isEqualTo(MessageReceiver.END);
        r.close();
        sender.close();
        receiving.close();

        pair();
        MessageReceiver<IOException> cut = receiver(4096);
        send(message(20, 1).asSlice(0, 12), 50);
        sender.shutdown();
        assertThatThrownBy(() -> cut.next(got, MessageReceiver.Wait.BLOCK)).isInstanceOf(EOFException.class);
        assertThat(got).as("fds of the cut message are not handed out").isEmpty();
        cut.close(); // ... and closed (FdLeakCheck)
        sender.close();
        receiving.close();
        pair();

        MessageReceiver<IOException> cutHeader = receiver(4096);
        send(message(20, 1).asSlice(0, 2));
        sender.shutdown();
        assertThatThrownBy(() -> cutHeader.next(got, MessageReceiver.Wait.BLOCK)).isInstanceOf(EOFException.class)
                .hasMessageContaining("header");
        cutHeader.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2, 3, 0xdead, (int) MAX + 1, -1})
    void garbageLengthsAreRefusedAndTheirFdsClosed(int length) throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        send(message(8, 1));
        MemorySegment bad = message(16, 2);
        bad.set(JAVA_INT.withByteAlignment(1), 0, length);
        send(bad, 60);
        expect(r, 8, 1);
        assertThatThrownBy(() -> r.next(got, MessageReceiver.Wait.BLOCK)).isInstanceOf(IOException.class)
                .hasMessageContaining("bad length");
        assertThat(got).isEmpty();
        r.close();
        assertThatThrownBy(() -> r.next(got, MessageReceiver.Wait.BLOCK)).isInstanceOf(LinuxException.class);
    }

    @Test
    void aPeerPilingUpFdsForAMessageThatNeverCompletesIsCutOff() throws Exception {
        MessageReceiver<IOException> r = receiver(1 << 16);
        receiving.setMaxReceiveFds(Libc.SCM_MAX_FD);
        send(message(60_000, 1).asSlice(0, HEADER));
        Future<?> flood = threads.submit(() -> {
            int[] labels = new int[200];
            for (int i = 0; i < 10; i++) {
                send(MemorySegment.ofArray(new byte[1]), labels);
            }
            return null;
        });
        assertThatThrownBy(() -> {
            while (true) {
                r.next(got, MessageReceiver.Wait.BLOCK);
            }
        }).isInstanceOf(LinuxException.class).hasMessageContaining("fds wait");
        flood.get(10, TimeUnit.SECONDS);
        r.close();
    }

    /** Random sizes, random fds, random cuts on the sending side, a small buffer: every message and fd as sent. */
    /**
     * Sends message i ({@code message(sizes[i], i)}, fds labelled {@code labels[i]}) on another
     * thread, half of them cut in two sendmsg at a random place, pausing 1 ms about once in {@code pauseOneIn}.
     */
    private Future<?> sendInPieces(int[] sizes, int[][] labels, long seed, int pauseOneIn) {
        return threads.submit(() -> {
            Random cuts = new Random(seed);
            for (int i = 0; i < sizes.length; i++) {
                MemorySegment m = message(sizes[i], i);
                if (cuts.nextBoolean() && sizes[i] > 1) {
                    long cut = 1 + cuts.nextInt(sizes[i] - 1);
                    send(m.asSlice(0, cut), labels[i]);
                    send(m.asSlice(cut));
                } else {
                    send(m, labels[i]);
                }
                if (cuts.nextInt(pauseOneIn) == 0) {
                    Thread.sleep(1);
                }
            }
            return null;
        });
    }

    @Test
    void randomTrafficKeepsBytesAndFdsWithTheirMessages() throws Exception {
        MessageReceiver<IOException> r = receiver(256);
        Random random = new Random(42);
        int count = 400;
        int[] sizes = new int[count];
        int[][] labels = new int[count][];
        for (int i = 0; i < count; i++) {
            sizes[i] = HEADER + (random.nextInt(10) == 0 ? random.nextInt(5000) : random.nextInt(60));
            labels[i] = random.nextInt(4) == 0 ? new int[] {1000 + i, 2000 + i} : random.nextInt(5) == 0 ? new int[] {i} : new int[0];
        }
        Future<?> sending = sendInPieces(sizes, labels, 7, 20);
        for (int i = 0; i < count; i++) {
            List<Fd> fds = new ArrayList<>();
            MessageReceiver.Wait wait = i % 3 == 0 ? MessageReceiver.Wait.BLOCK : MessageReceiver.Wait.DONT_WAIT;
            int result;
            while ((result = r.next(fds, wait)) == MessageReceiver.NOTHING) {
                Linux.poll(receiving.fd(), 1, 100);
            }
            assertThat(result).isEqualTo(MessageReceiver.MESSAGE);
            try {
                assertThat(r.message().toArray(JAVA_BYTE)).as("message %d", i).isEqualTo(message(sizes[i], i).toArray(JAVA_BYTE));
                List<Integer> expected = new ArrayList<>();
                for (int l : labels[i]) {
                    expected.add(l);
                }
                assertThat(labelsOf(fds)).as("fds of message %d", i).isEqualTo(expected);
            } finally {
                fds.forEach(Fd::close);
            }
        }
        sending.get(30, TimeUnit.SECONDS);
        r.close();
    }

    // ---- placement: a message's payload straight into the memory that wants it

    private static final int PREFIX = 8;

    /** Expects {@code message(size, seed)}: its first 8 bytes stay in the buffer, the rest goes to a native target. */
    private final class Expect implements MessageReceiver.Placement {
        final MemorySegment expected;
        final MemorySegment target;
        boolean mayWrite = true;
        int holds, released;

        Expect(int size, int seed) {
            expected = message(size, seed);
            target = arena.allocate(size - PREFIX, 8);
            target.fill((byte) 0x77);
        }

        @Override
        public int prefixSize() {
            return PREFIX;
        }

        @Override
        public MemorySegment target() {
            return target;
        }

        @Override
        public boolean matches(MemorySegment prefix) {
            return prefix.mismatch(expected.asSlice(0, PREFIX)) == -1;
        }

        @Override
        public boolean hold() {
            if (!mayWrite) {
                return false;
            }
            holds++;
            return true;
        }

        @Override
        public void release() {
            released++;
        }

        /** The message as received: prefix from the buffer, the rest from the target. */
        byte[] placedMessage(MessageReceiver<IOException> r) {
            byte[] whole = new byte[(int) expected.byteSize()];
            MemorySegment w = MemorySegment.ofArray(whole);
            MemorySegment.copy(r.message(), 0, w, 0, PREFIX);
            MemorySegment.copy(target, 0, w, PREFIX, target.byteSize());
            return whole;
        }
    }

    @Test
    void theExpectedMessagesPayloadGoesToTheTargetAndTheNextMessageIsNotReadWithIt() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        Expect e = new Expect(1008, 3);
        MemorySegment both = MemorySegment.ofArray(new byte[1008 + 20]);
        MemorySegment.copy(message(1008, 3), 0, both, 0, 1008);
        MemorySegment.copy(message(20, 9), 0, both, 1008, 20);
        send(both, 5);
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK, e)).isEqualTo(MessageReceiver.MESSAGE);
        got.addAll(fds);
        assertThat(r.placed()).isTrue();
        assertThat(r.message().byteSize()).isEqualTo(1008);
        assertThat(e.placedMessage(r)).isEqualTo(message(1008, 3).toArray(JAVA_BYTE));
        assertThat(labelsOf(fds)).containsExactly(5);
        assertThat(r.buffered()).as("read no further than the placed message").isZero();
        assertThat(e.holds).isEqualTo(e.released).isPositive();
        expect(r, 20, 9);
    }

    @Test
    void anotherMessageThanTheExpectedOneIsPutBackTogetherInTheBuffer() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        // Same size, other bytes; then a short message and one glued to it.
        send(message(1008, 4));
        Expect wrong = new Expect(1008, 3);
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK, wrong)).isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.placed()).isFalse();
        assertThat(r.message().toArray(JAVA_BYTE)).isEqualTo(message(1008, 4).toArray(JAVA_BYTE));

        MemorySegment glued = MemorySegment.ofArray(new byte[20 + 600]);
        MemorySegment.copy(message(20, 1), 0, glued, 0, 20);
        MemorySegment.copy(message(600, 2), 0, glued, 20, 600);
        send(glued);
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK, new Expect(1008, 3))).isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.placed()).isFalse();
        assertThat(r.message().toArray(JAVA_BYTE)).isEqualTo(message(20, 1).toArray(JAVA_BYTE));
        expect(r, 600, 2);
        assertThat(fds).isEmpty();
    }

    @Test
    void aPlacedMessageArrivingInPiecesIsStillPlacedAcrossCallsThatDoNotWait() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        Expect e = new Expect(2000, 6);
        MemorySegment m = message(2000, 6);
        List<Fd> fds = new ArrayList<>();
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT, e)).isEqualTo(MessageReceiver.NOTHING);
        send(m.asSlice(0, 5)); // not even the whole prefix
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT, null)).isEqualTo(MessageReceiver.NOTHING);
        send(m.asSlice(5, 700));
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT, null)).isEqualTo(MessageReceiver.NOTHING);
        send(m.asSlice(705));
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK, null)).isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.placed()).as("the placement under way went on").isTrue();
        assertThat(e.placedMessage(r)).isEqualTo(m.toArray(JAVA_BYTE));
    }

    @Test
    void aTargetThatMayNoLongerBeWrittenIsNotWrittenAgainAndTheStreamStaysInStep() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        Expect e = new Expect(2000, 6);
        MemorySegment m = message(2000, 6);
        List<Fd> fds = new ArrayList<>();
        send(m.asSlice(0, 1000));
        assertThat(r.next(fds, MessageReceiver.Wait.DONT_WAIT, e)).isEqualTo(MessageReceiver.NOTHING);
        e.mayWrite = false; // the owner gave up on it
        MemorySegment rest = MemorySegment.ofArray(new byte[1000 + 30]);
        MemorySegment.copy(m, 1000, rest, 0, 1000);
        MemorySegment.copy(message(30, 8), 0, rest, 1000, 30);
        send(rest);
        assertThat(r.next(fds, MessageReceiver.Wait.BLOCK, null)).isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.placed()).isFalse();
        assertThat(r.message().byteSize()).isEqualTo(2000);
        assertThat(e.target.asSlice(1000 - PREFIX).toArray(JAVA_BYTE)).as("untouched after it was given up")
                .containsOnly((byte) 0x77);
        assertThat(e.target.asSlice(0, 1000 - PREFIX).toArray(JAVA_BYTE)).isEqualTo(m.asSlice(PREFIX, 1000 - PREFIX).toArray(JAVA_BYTE));
        expect(r, 30, 8);
        assertThat(e.holds).isEqualTo(e.released);
    }

    @Test
    void aHeapTargetIsNotOfferedToTheKernel() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        MessageReceiver.Placement heap = new MessageReceiver.Placement() {
            final MemorySegment target = MemorySegment.ofArray(new byte[1000]);

            @Override public int prefixSize() { return PREFIX; }
            @Override public MemorySegment target() { return target; }
            @Override public boolean matches(MemorySegment prefix) { return true; }
            @Override public boolean hold() { throw new AssertionError("a heap target must not be held for a receive"); }
            @Override public void release() { throw new AssertionError(); }
        };
        send(message(1008, 3));
        assertThat(r.next(new ArrayList<>(), MessageReceiver.Wait.BLOCK, heap)).isEqualTo(MessageReceiver.MESSAGE);
        assertThat(r.placed()).isFalse();
        assertThat(r.message().toArray(JAVA_BYTE)).isEqualTo(message(1008, 3).toArray(JAVA_BYTE));
    }

    @Test
    void randomTrafficWithRightAndWrongPlacementsKeepsEveryMessageWhole() throws Exception {
        MessageReceiver<IOException> r = receiver(8192);
        receiving.setReceiveTimeout(Duration.ofMillis(20)); // timed receives give up now and then, mid-placement too
        Random random = new Random(11);
        int count = 300;
        int[] sizes = new int[count];
        int[][] labels = new int[count][];
        for (int i = 0; i < count; i++) {
            sizes[i] = HEADER + (random.nextInt(3) == 0 ? PREFIX + random.nextInt(6000) : random.nextInt(40));
            labels[i] = random.nextInt(6) == 0 ? new int[] {i} : new int[0];
        }
        Future<?> sending = sendInPieces(sizes, labels, 13, 10);
        int placedCount = 0;
        for (int i = 0; i < count; i++) {
            // Expect this message (right), the next one (wrong), or nothing.
            int guess = random.nextInt(3);
            int guessed = guess == 0 ? i : i + 1;
            Expect e = guess < 2 && guessed < count && sizes[guessed] > PREFIX ? new Expect(sizes[guessed], guessed) : null;
            List<Fd> fds = new ArrayList<>();
            MessageReceiver.Wait wait = i % 2 == 0 ? MessageReceiver.Wait.TIMED : MessageReceiver.Wait.DONT_WAIT;
            int result;
            boolean first = true;
            while ((result = r.next(fds, wait, first ? e : null)) == MessageReceiver.NOTHING) {
                first = false;
                Linux.poll(receiving.fd(), 1, 100);
            }
            assertThat(result).isEqualTo(MessageReceiver.MESSAGE);
            try {
                byte[] bytes = r.placed() ? e.placedMessage(r) : r.message().toArray(JAVA_BYTE);
                if (r.placed()) {
                    placedCount++;
                    assertThat(guessed).as("only the expected message is placed").isEqualTo(i);
                }
                assertThat(bytes).as("message %d", i).isEqualTo(message(sizes[i], i).toArray(JAVA_BYTE));
                List<Integer> expected = new ArrayList<>();
                for (int l : labels[i]) {
                    expected.add(l);
                }
                assertThat(labelsOf(fds)).as("fds of message %d", i).isEqualTo(expected);
            } finally {
                fds.forEach(Fd::close);
            }
            if (e != null) {
                assertThat(e.holds).isEqualTo(e.released);
            }
        }
        sending.get(30, TimeUnit.SECONDS);
        assertThat(placedCount).as("some guesses were right and placed").isPositive();
        r.close();
    }

    /**
     * Both ends send a lot at once: a plain send on one side would wait forever for the other to
     * read. trySend takes in what arrives while it waits for room (and the caller's absorber takes
     * whole messages out of a full buffer, as the client does), so both complete.
     */
    @Test
    void trySendReadsWhileItWaitsSoTwoLargeSendsDoNotDeadlock() throws Exception {
        MessageReceiver<IOException> r = receiver(4096);
        int size = 4 << 20, count = 64, each = 60_000;
        Future<MemorySegment> other = threads.submit(() -> {
            for (int i = 0; i < count; i++) {
                sender.send(message(each, i)); // blocks until the other side has read enough
            }
            MemorySegment got = MemorySegment.ofArray(new byte[size]);
            assertThat(sender.receiveFully(got, new ArrayList<>())).isTrue();
            return got;
        });
        MemorySegment mine = arena.allocate(size);
        mine.copyFrom(message(size, 4));
        List<byte[]> taken = new ArrayList<>();
        UnixSocket.WhileFull absorber = new UnixSocket.WhileFull() {
            @Override
            public boolean canAbsorb() {
                return true;
            }

            @Override
            public boolean absorb() throws IOException {
                List<Fd> fds = new ArrayList<>();
                while (!r.canAbsorb() && r.next(fds, MessageReceiver.Wait.BUFFERED) == MessageReceiver.MESSAGE) {
                    taken.add(r.message().toArray(JAVA_BYTE));
                }
                return r.canAbsorb() && r.absorb();
            }
        };
        boolean sent = false;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!sent && System.nanoTime() < deadline) {
            sent = receiving.trySend(mine.asSlice(0, HEADER), mine.asSlice(HEADER), absorber);
            if (!sent) { // no room at all yet: take input, try again
                absorber.absorb();
                Thread.sleep(1);
            }
        }
        assertThat(sent).isTrue();
        assertThat(other.get(10, TimeUnit.SECONDS).toArray(JAVA_BYTE)).isEqualTo(message(size, 4).toArray(JAVA_BYTE));
        while (taken.size() < count) {
            assertThat(r.next(got, MessageReceiver.Wait.BLOCK)).isEqualTo(MessageReceiver.MESSAGE);
            taken.add(r.message().toArray(JAVA_BYTE));
        }
        for (int i = 0; i < count; i++) {
            assertThat(taken.get(i)).as("message %d", i).isEqualTo(message(each, i).toArray(JAVA_BYTE));
        }
        r.close();
    }

    @Test
    void trySendGivesUpWithNothingSentWhenTheSocketIsFull() throws Exception {
        MemorySegment block = arena.allocate(100); // one skb: all of it goes, or none
        UnixSocket.WhileFull none = new UnixSocket.WhileFull() {
            @Override
            public boolean canAbsorb() {
                return false;
            }

            @Override
            public boolean absorb() {
                return false;
            }
        };
        long sent = 0;
        while (sender.trySend(block, MemorySegment.NULL, none)) {
            sent += block.byteSize();
            assertThat(sent).as("the socket fills up").isLessThan(256L << 20);
        }
        MemorySegment drain = arena.allocate(sent);
        assertThat(receiving.receiveFully(drain, new ArrayList<>())).isTrue();
        assertThat(receiving.receiveSome(arena.allocate(1), new ArrayList<>(), MessageReceiver.Wait.DONT_WAIT)).as("nothing partial was left").isEqualTo(-1);
    }
}
