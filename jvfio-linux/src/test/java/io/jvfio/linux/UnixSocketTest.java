package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.testing.Allocations;
import java.io.EOFException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UnixSocketTest extends FdLeakCheck {
    private UnixSocket left;
    private UnixSocket right;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @BeforeEach
    void connectPair() throws LinuxException {
        UnixSocket[] pair = UnixSocket.pair();
        left = pair[0];
        right = pair[1];
    }

    @AfterEach
    void closeEverything() throws Exception {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).as("helper threads ended").isTrue();
        left.close();
        right.close();
        for (AutoCloseable resource : toClose) resource.close();
    }

    private static MemorySegment bytes(String text) {
        return MemorySegment.ofArray(text.getBytes(StandardCharsets.UTF_8));
    }

    private static String text(MemorySegment segment) {
        return new String(segment.toArray(JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** A memfd whose 4 bytes spell {@code "fd" + index} padded, so each one is recognisable. */
    private Fd labelledMemfd(int index) throws LinuxException {
        Fd memfd = Memfd.create("label-" + index, 4096);
        Linux.pwrite(memfd, bytes(label(index)), 0);
        return memfd;
    }

    private static String label(int index) {
        return String.format("fd%02d", index);
    }

    private static String readLabel(Fd fd) throws LinuxException {
        MemorySegment buffer = MemorySegment.ofArray(new byte[4]);
        assertThat(Linux.pread(fd, buffer, 0)).isEqualTo(4);
        return text(buffer);
    }

    /** A live upgrade: the process that sent its socket away closes its descriptor; the connection stays up. */
    @Test
    void releaseLeavesTheConnectionToAnotherDescriptor() throws Exception {
        UnixSocket successor = UnixSocket.adopt(left.fd().duplicate());
        toClose.add(successor);
        left.release();
        right.send(bytes("still here"));
        MemorySegment received = MemorySegment.ofArray(new byte[10]);
        assertThat(successor.receiveFully(received, new ArrayList<>())).isTrue();
        assertThat(text(received)).isEqualTo("still here");
        successor.send(bytes("!"));
        MemorySegment reply = MemorySegment.ofArray(new byte[1]);
        assertThat(right.receiveFully(reply, new ArrayList<>())).isTrue();
        assertThatThrownBy(() -> left.send(bytes("x"))).isInstanceOf(LinuxException.class);
    }

    /** Whereas close() shuts the connection down for every descriptor of it. */
    @Test
    void closeEndsTheConnectionForEveryDescriptor() throws Exception {
        UnixSocket other = UnixSocket.adopt(left.fd().duplicate());
        toClose.add(other);
        left.close();
        assertThat(right.receiveFully(MemorySegment.ofArray(new byte[1]), new ArrayList<>())).as("end of stream").isFalse();
    }

    @Test
    void heapBytesArriveInOrder() throws Exception {
        left.send(bytes("hello"));
        left.send(bytes(" world"));
        MemorySegment received = MemorySegment.ofArray(new byte[11]);
        List<Fd> fds = new ArrayList<>();

        assertThat(right.receiveFully(received, fds)).isTrue();

        assertThat(text(received)).isEqualTo("hello world");
        assertThat(fds).isEmpty();
    }

    @Test
    void nativeBytesArriveInNativeMemory() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(300);
            for (int i = 0; i < 300; i++) source.set(JAVA_BYTE, i, (byte) i);
            MemorySegment destination = arena.allocate(300);

            left.send(source);
            assertThat(right.receiveFully(destination, new ArrayList<>())).isTrue();

            assertThat(destination.mismatch(source)).isEqualTo(-1);
        }
    }

    @ParameterizedTest(name = "{0} fds")
    @ValueSource(ints = {0, 1, 16})
    void fdsTravelWithTheMessageAndReferToTheSameFiles(int count) throws Exception {
        List<Fd> sent = new ArrayList<>();
        for (int i = 0; i < count; i++) sent.add(labelledMemfd(i));
        List<Fd> received = new ArrayList<>();
        try {
            left.send(bytes("message"), sent);
            MemorySegment data = MemorySegment.ofArray(new byte[7]);

            assertThat(right.receiveFully(data, received)).isTrue();

            assertThat(text(data)).isEqualTo("message");
            assertThat(received).hasSize(count);
            for (int i = 0; i < count; i++) {
                Fd fd = received.get(i);
                assertThat(fd.value()).isNotEqualTo(sent.get(i).value());
                assertThat(readLabel(fd)).isEqualTo(label(i));
                assertThat(openFlags(fd) & O_CLOEXEC).as("received fds are close-on-exec").isNotZero();
            }
        } finally {
            sent.forEach(Fd::close);
            received.forEach(Fd::close);
        }
    }

    @Test
    void aReceivedMemfdMapsTheSenderMemory() throws Exception {
        try (Fd memfd = Memfd.create("shared", 8192); Mapping senderView = Mapping.map(memfd, 0, 8192, true)) {
            left.send(bytes("x"), List.of(memfd));
            List<Fd> received = new ArrayList<>();
            assertThat(right.receiveFully(MemorySegment.ofArray(new byte[1]), received)).isTrue();
            try (Fd theirs = received.getFirst(); Mapping receiverView = Mapping.map(theirs, 0, 8192, true)) {
                senderView.segment().set(JAVA_BYTE, 4097, (byte) 0x5A);
                assertThat(receiverView.segment().get(JAVA_BYTE, 4097)).isEqualTo((byte) 0x5A);
            }
        }
    }

    @Test
    void moreFdsThanTheReceiverAllowsIsEmsgsizeAndClosesWhatArrived() throws Exception {
        right.setMaxReceiveFds(4);
        List<Fd> sent = new ArrayList<>();
        for (int i = 0; i < 10; i++) sent.add(labelledMemfd(i));
        int fdsWithOnlyTheOriginals = Fd.openFdCountOfProcess();
        left.send(bytes("overflow"), sent);
        List<Fd> received = new ArrayList<>();

        assertThatThrownBy(() -> right.receiveFully(MemorySegment.ofArray(new byte[8]), received))
                .isInstanceOfSatisfying(LinuxException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EMSGSIZE);
                    assertThat(e.errnoName()).isEqualTo("EMSGSIZE");
                    assertThat(e.call()).isEqualTo("recvmsg");
                    assertThat(e.getMessage()).startsWith("recvmsg: too many fds");
                });

        assertThat(received).isEmpty();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(fdsWithOnlyTheOriginals);
        sent.forEach(Fd::close);
    }

    @Test
    void maxReceiveFdsIsBoundedByTheKernelLimit() {
        assertThatThrownBy(() -> right.setMaxReceiveFds(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> right.setMaxReceiveFds(254)).isInstanceOf(IllegalArgumentException.class);
        right.setMaxReceiveFds(253);
    }

    @Test
    void aMessageLargerThanTheSocketBufferArrivesWhole() throws Exception {
        long size = 8L << 20;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment source = arena.allocate(size);
            byte[] random = new byte[(int) size];
            new Random(42).nextBytes(random);
            MemorySegment.copy(MemorySegment.ofArray(random), 0, source, 0, size);
            MemorySegment destination = arena.allocate(size);

            Future<?> sender = threads.submit(() -> {
                left.send(source);
                return null;
            });
            assertThat(right.receiveFully(destination, new ArrayList<>())).isTrue();
            sender.get();

            assertThat(destination.mismatch(source)).isEqualTo(-1);
        }
    }

    @Test
    void aLargeHeapMessageGoesThroughTheBounceBufferInPieces() throws Exception {
        byte[] source = new byte[(5 << 20) + 123];
        new Random(7).nextBytes(source);
        byte[] destination = new byte[source.length];

        Future<?> sender = threads.submit(() -> {
            left.send(MemorySegment.ofArray(source));
            return null;
        });
        assertThat(right.receiveFully(MemorySegment.ofArray(destination), new ArrayList<>())).isTrue();
        sender.get();

        assertThat(destination).isEqualTo(source);
    }

    @Test
    void gatherSendPutsHeaderAndPayloadOnTheStreamAsOneMessage() throws Exception {
        try (Arena arena = Arena.ofConfined(); Fd memfd = labelledMemfd(3)) {
            MemorySegment payload = arena.allocateFrom("payload", StandardCharsets.US_ASCII); // 8 bytes with NUL
            left.send(bytes("HEADER"), payload, List.of(memfd));

            MemorySegment received = MemorySegment.ofArray(new byte[14]);
            List<Fd> fds = new ArrayList<>();
            assertThat(right.receiveFully(received, fds)).isTrue();

            assertThat(text(received)).isEqualTo("HEADERpayload\0");
            assertThat(fds).hasSize(1);
            try (Fd theirs = fds.getFirst()) {
                assertThat(readLabel(theirs)).isEqualTo(label(3));
            }
        }
    }

    @Test
    void aGatherOfLargeHeapSegmentsCrossesTheBounceBufferIntact() throws Exception {
        byte[] header = new byte[(1 << 20) - 3]; // almost fills the bounce buffer, so the payload starts mid-way
        byte[] payload = new byte[(2 << 20) + 11];
        new Random(3).nextBytes(header);
        new Random(4).nextBytes(payload);
        try (Fd memfd = labelledMemfd(5)) {
            Future<?> sender = threads.submit(() -> {
                left.send(MemorySegment.ofArray(header), MemorySegment.ofArray(payload), List.of(memfd));
                return null;
            });
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment received = arena.allocate(header.length + payload.length);
                List<Fd> fds = new ArrayList<>();
                assertThat(right.receiveFully(received, fds)).isTrue();
                sender.get();

                assertThat(received.asSlice(0, header.length).toArray(JAVA_BYTE)).isEqualTo(header);
                assertThat(received.asSlice(header.length).toArray(JAVA_BYTE)).isEqualTo(payload);
                assertThat(fds).hasSize(1);
                try (Fd theirs = fds.getFirst()) {
                    assertThat(readLabel(theirs)).isEqualTo(label(5));
                }
            }
        }
    }

    @Test
    void sendingAndReceivingNativeMemoryAllocatesNothingOnTheHeap() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = arena.allocate(16);
            MemorySegment payload = arena.allocate(48);
            MemorySegment received = arena.allocate(64);
            List<Fd> noFds = List.of();
            List<Fd> fdsOut = new ArrayList<>();
            // Until the JIT has compiled the path, interpreted code may allocate; a loaded machine can take a
            // while to get there. So look for one steady-state round: code that allocates per call never has one.
            List<Long> allocatedPerRound = new ArrayList<>();
            for (int round = 0; round < 30; round++) {
                long before = Allocations.currentThread();
                for (int i = 0; i < 10_000; i++) {
                    left.send(header, payload, noFds);
                    right.receiveFully(received, fdsOut);
                }
                allocatedPerRound.add(Allocations.currentThread() - before);
                // Not one object per round trip (10,000 of them would be >= 160 KB); slack for stray JVM work.
                if (allocatedPerRound.getLast() < 16 * 1024) break;
            }
            assertThat(allocatedPerRound.getLast()).as("bytes allocated per round: %s", allocatedPerRound)
                    .isLessThan(16 * 1024);
        }
    }


    @Test
    void concurrentSendersNeverInterleaveTheirMessages() throws Exception {
        int senders = 4;
        int messagesEach = 50;
        int messageSize = 100_000; // several socket-buffer fills, so partial writes happen
        List<Future<?>> running = new ArrayList<>();
        for (int s = 0; s < senders; s++) {
            byte marker = (byte) ('A' + s);
            running.add(threads.submit(() -> {
                byte[] message = new byte[messageSize];
                java.util.Arrays.fill(message, marker);
                for (int m = 0; m < messagesEach; m++) left.send(MemorySegment.ofArray(message));
                return null;
            }));
        }
        byte[] message = new byte[messageSize];
        for (int m = 0; m < senders * messagesEach; m++) {
            assertThat(right.receiveFully(MemorySegment.ofArray(message), new ArrayList<>())).isTrue();
            byte first = message[0];
            for (byte b : message) {
                if (b != first) throw new AssertionError("message " + m + " mixes senders");
            }
        }
        for (Future<?> sender : running) sender.get();
    }

    @Test
    void peerClosingBeforeAMessageIsACleanEnd() throws Exception {
        left.close();
        assertThat(right.receiveFully(MemorySegment.ofArray(new byte[16]), new ArrayList<>())).isFalse();
    }

    @Test
    void peerClosingInsideAMessageIsEofAndDropsItsFds() throws Exception {
        try (Fd memfd = labelledMemfd(0)) {
            left.send(bytes("0123456789"), List.of(memfd));
        }
        left.close();
        List<Fd> received = new ArrayList<>();

        assertThatThrownBy(() -> right.receiveFully(MemorySegment.ofArray(new byte[20]), received))
                .isInstanceOf(EOFException.class)
                .hasMessageContaining("10 of 20");
        assertThat(received).isEmpty();
    }

    @Test
    void receiveSomeReturnsWhatIsThereAndZeroAtTheEnd() throws Exception {
        left.send(bytes("abc"));
        MemorySegment buffer = MemorySegment.ofArray(new byte[64]);
        assertThat(right.receiveSome(buffer, new ArrayList<>(), MessageReceiver.Wait.BLOCK)).isEqualTo(3);
        assertThat(text(buffer.asSlice(0, 3))).isEqualTo("abc");
        left.close();
        assertThat(right.receiveSome(buffer, new ArrayList<>(), MessageReceiver.Wait.BLOCK)).isZero();
    }

    @Test
    void receiveSomeThatMustNotWaitReturnsMinusOneUntilDataIsThere() throws Exception {
        MemorySegment buffer = MemorySegment.ofArray(new byte[64]);
        right.setReceiveTimeout(java.time.Duration.ofMillis(10));
        assertThat(right.receiveSome(buffer, new ArrayList<>(), MessageReceiver.Wait.DONT_WAIT)).isEqualTo(-1);
        assertThat(right.receiveSome(buffer, new ArrayList<>(), MessageReceiver.Wait.TIMED)).isEqualTo(-1);
        left.send(bytes("abc"));
        assertThat(right.receiveSome(buffer, new ArrayList<>(), MessageReceiver.Wait.BUFFERED))
                .as("no system call, so nothing").isEqualTo(-1);
        assertThat(right.receiveSome(buffer, new ArrayList<>(), MessageReceiver.Wait.DONT_WAIT)).isEqualTo(3);
        assertThat(text(buffer.asSlice(0, 3))).isEqualTo("abc");
    }

    @Test
    void sendingToAClosedPeerIsEpipeNotASignal() throws Exception {
        right.close();
        assertThatThrownBy(() -> left.send(bytes("anyone?")))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EPIPE));
    }

    @Test
    void peerCredentialsAreThisProcess() throws Exception {
        PeerCredentials credentials = right.peerCredentials();
        assertThat((long) credentials.pid()).isEqualTo(ProcessHandle.current().pid());
        assertThat(credentials.uid()).isEqualTo(effectiveId("Uid:"));
        assertThat(credentials.gid()).isEqualTo(effectiveId("Gid:"));
        assertThat(credentials.groups()).as("SO_PEERGROUPS: the supplementary groups").isEqualTo(supplementaryGroups());
    }

    /** The supplementary groups from /proc/self/status ("Groups:\tg1 g2 ..."). */
    static Set<Integer> supplementaryGroups() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Groups:")) {
                String list = line.substring("Groups:".length()).trim();
                return list.isEmpty() ? Set.of() : Arrays.stream(list.split("\\s+")).map(Integer::valueOf).collect(Collectors.toSet());
            }
        }
        throw new AssertionError("no Groups: in /proc/self/status");
    }

    /** The effective id from /proc/self/status ("Uid:\treal\teffective\tsaved\tfs"). */
    static int effectiveId(String field) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field)) return Integer.parseInt(line.substring(field.length()).trim().split("\\s+")[1]);
        }
        throw new AssertionError("no " + field + " in /proc/self/status");
    }

    @Test
    void closeWakesAThreadBlockedInReceive() throws Exception {
        BlockedThread<Boolean> receiver = BlockedThread.start(threads,
                () -> right.receiveFully(MemorySegment.ofArray(new byte[8]), new ArrayList<>()))
                .awaitBlockedIn(BlockedThread.RECVMSG);

        right.close();

        assertThat(receiver.result.get()).as("the shut-down socket reads as a clean end").isFalse();
        assertThat(right.fd().isOpen()).isFalse();
    }

    @Test
    void closeWakesAThreadBlockedInSend() throws Exception {
        BlockedThread<Void> sender = BlockedThread.<Void>start(threads, () -> {
            left.send(MemorySegment.ofArray(new byte[16 << 20])); // far beyond the socket buffer: it blocks
            return null;
        }).awaitBlockedIn(BlockedThread.SENDMSG);

        left.close();

        assertThatThrownBy(sender.result::get)
                .cause()
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EPIPE));
    }

    @Test
    void aClosedSocketRefusesWorkAndClosesOnce() throws Exception {
        right.close();
        right.close();
        assertThat(right.fd().isOpen()).isFalse();
        assertThatThrownBy(() -> right.send(bytes("x")))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
        assertThatThrownBy(() -> right.receiveSome(MemorySegment.ofArray(new byte[1]), new ArrayList<>(), MessageReceiver.Wait.BLOCK))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
        right.shutdown(); // harmless once closed
    }

    @Test
    void socketsAreCloseOnExec() throws Exception {
        assertThat(openFlags(left.fd()) & O_CLOEXEC).isNotZero();
        assertThat(openFlags(right.fd()) & O_CLOEXEC).isNotZero();
    }

    @Test
    void connectingToAMissingPathNamesPathAndErrno() {
        Path missing = Path.of("/nonexistent-jvfio-dir/that.sock");
        assertThatThrownBy(() -> UnixSocket.connect(missing))
                .isInstanceOfSatisfying(LinuxException.class, e -> {
                    assertThat(e).hasMessage("connect /nonexistent-jvfio-dir/that.sock: ENOENT (No such file or directory)");
                    assertThat(e.errno()).isEqualTo(2);
                    assertThat(e.call()).isEqualTo("connect");
                });
    }

    @Test
    void aPathTooLongForSockaddrUnIsEnametoolong() {
        Path tooLong = Path.of("/tmp/" + "x".repeat(103)); // 108 bytes: no room for the NUL
        assertThatThrownBy(() -> UnixSocket.connect(tooLong))
                .isInstanceOfSatisfying(LinuxException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG);
                    assertThat(e.getMessage()).startsWith("connect " + tooLong + ": ENAMETOOLONG");
                });
    }

    @Test
    void adoptedSocketWorksAndOwnsItsFd() throws Exception {
        Fd copy = left.fd().duplicate();
        UnixSocket adopted = UnixSocket.adopt(copy);
        toClose.add(adopted);
        adopted.send(bytes("via adopted"));
        MemorySegment received = MemorySegment.ofArray(new byte[11]);
        assertThat(right.receiveFully(received, new ArrayList<>())).isTrue();
        assertThat(text(received)).isEqualTo("via adopted");
        adopted.close();
        assertThat(copy.isOpen()).isFalse();
    }
}
