package io.jvfio.linux;

import static java.nio.file.attribute.PosixFilePermission.OWNER_READ;
import static java.nio.file.attribute.PosixFilePermission.OWNER_WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixServerSocketTest extends FdLeakCheck {
    @TempDir
    Path directory;

    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).as("helper threads ended").isTrue();
    }

    /** A live upgrade: the old server releases its listening socket; a successor's descriptor of it goes on accepting. */
    @Test
    void releaseLeavesTheSocketListeningForAnotherDescriptor() throws Exception {
        Path path = directory.resolve("handed-over.sock");
        UnixServerSocket old = UnixServerSocket.bind(path, 0600, 4);
        try (UnixServerSocket successor = UnixServerSocket.adopt(old.fd().duplicate())) {
            old.release();
            try (UnixSocket client = UnixSocket.connect(path); UnixSocket accepted = successor.accept()) {
                client.send(java.lang.foreign.MemorySegment.ofArray(new byte[] {7}));
                java.lang.foreign.MemorySegment received = java.lang.foreign.MemorySegment.ofArray(new byte[1]);
                assertThat(accepted.receiveFully(received, new java.util.ArrayList<>())).isTrue();
                assertThat(received.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 7);
            }
        }
    }

    @Test
    void bindSetsTheModeBeforeClientsCanConnect() throws Exception {
        Path path = directory.resolve("server.sock");
        try (UnixServerSocket server = UnixServerSocket.bind(path, 0600, 4)) {
            assertThat(Files.getPosixFilePermissions(path)).containsExactlyInAnyOrder(OWNER_READ, OWNER_WRITE);
            assertThat(server.path()).contains(path);
        }
        assertThat(path).as("close does not unlink").exists();
    }

    @Test
    void bindWhilePrepareBindRunsOnAnotherThreadServesAsUsual() throws Exception {
        var prepared = threads.submit(UnixServerSocket::prepareBind);
        Path path = directory.resolve("prepared.sock");
        try (UnixServerSocket server = UnixServerSocket.bind(path, 0600, 4);
                UnixSocket client = UnixSocket.connect(path);
                UnixSocket accepted = server.accept()) {
            assertThat(Files.getPosixFilePermissions(path)).containsExactlyInAnyOrder(OWNER_READ, OWNER_WRITE);
            client.send(MemorySegment.ofArray(new byte[] {7}));
            MemorySegment one = MemorySegment.ofArray(new byte[1]);
            assertThat(accepted.receiveFully(one, new ArrayList<>())).isTrue();
            assertThat(one.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsExactly(7);
        }
        assertThat(prepared.get(30, TimeUnit.SECONDS)).as("prepareBind finished without failing").isNull();
        UnixServerSocket.prepareBind(); // again: nothing left to do, and no failure
        try (UnixServerSocket again = UnixServerSocket.bind(directory.resolve("again.sock"), 0600, 4)) {
            assertThat(again.fd().isOpen()).isTrue();
        }
    }

    @Test
    void clientAndServerTalkBothWays() throws Exception {
        Path path = directory.resolve("talk.sock");
        try (UnixServerSocket server = UnixServerSocket.bind(path, 0600, 4);
                UnixSocket client = UnixSocket.connect(path);
                UnixSocket accepted = server.accept()) {
            client.send(MemorySegment.ofArray("ping".getBytes(StandardCharsets.US_ASCII)));
            MemorySegment buffer = MemorySegment.ofArray(new byte[4]);
            assertThat(accepted.receiveFully(buffer, new ArrayList<>())).isTrue();
            assertThat(new String(buffer.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))).isEqualTo("ping");

            accepted.send(MemorySegment.ofArray("pong".getBytes(StandardCharsets.US_ASCII)));
            assertThat(client.receiveFully(buffer, new ArrayList<>())).isTrue();
            assertThat(new String(buffer.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))).isEqualTo("pong");

            assertThat((long) accepted.peerCredentials().pid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(openFlags(accepted.fd()) & O_CLOEXEC).isNotZero();
        }
    }

    @Test
    void closeWakesAThreadBlockedInAccept() throws Exception {
        UnixServerSocket server = UnixServerSocket.bind(directory.resolve("idle.sock"), 0600, 4);
        BlockedThread<UnixSocket> accepting = BlockedThread.start(threads, server::accept)
                .awaitBlockedIn(BlockedThread.ACCEPT4);

        server.close();

        assertThatThrownBy(accepting.result::get)
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOfSatisfying(LinuxException.class,
                        e -> assertThat(e.errno()).isIn(Errno.EINVAL, Errno.EBADF));
        assertThat(server.fd().isOpen()).isFalse();
    }

    @Test
    void acceptAfterCloseFails() throws Exception {
        UnixServerSocket server = UnixServerSocket.bind(directory.resolve("closed.sock"), 0600, 4);
        server.close();
        server.close();
        assertThatThrownBy(server::accept)
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
    }

    @Test
    void bindDoesNotReplaceAnExistingFile() throws Exception {
        Path path = directory.resolve("taken");
        Files.writeString(path, "keep me");
        assertThatThrownBy(() -> UnixServerSocket.bind(path, 0600, 4))
                .isInstanceOfSatisfying(LinuxException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE);
                    assertThat(e.getMessage()).startsWith("bind " + path + ": EADDRINUSE");
                });
        assertThat(Files.readString(path)).isEqualTo("keep me");
    }

    @Test
    void adoptAcceptsAListeningSocket() throws Exception {
        Path path = directory.resolve("adopted.sock");
        try (UnixServerSocket original = UnixServerSocket.bind(path, 0600, 4);
                UnixServerSocket adopted = UnixServerSocket.adopt(original.fd().duplicate());
                UnixSocket client = UnixSocket.connect(path);
                UnixSocket accepted = adopted.accept()) {
            assertThat(adopted.path()).isEmpty();
            client.send(MemorySegment.ofArray(new byte[] {42}));
            MemorySegment one = MemorySegment.ofArray(new byte[1]);
            assertThat(accepted.receiveFully(one, new ArrayList<>())).isTrue();
            assertThat(one.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsExactly(42);
        }
    }

    @Test
    void adoptRefusesAConnectedSocket() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try {
            assertThatThrownBy(() -> UnixServerSocket.adopt(pair[0].fd()))
                    .isInstanceOfSatisfying(LinuxException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
                        assertThat(e.getMessage()).contains("not listening");
                    });
            assertThat(pair[0].fd().isOpen()).as("a refused fd stays the caller's").isTrue();
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }

    @Test
    void adoptRefusesSomethingThatIsNoSocket() throws Exception {
        try (Fd memfd = Memfd.create("not-a-socket", 0)) {
            assertThatThrownBy(() -> UnixServerSocket.adopt(memfd))
                    .isInstanceOfSatisfying(LinuxException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.ENOTSOCK);
                        assertThat(e.getMessage()).contains("is not a socket");
                    });
        }
    }
}
