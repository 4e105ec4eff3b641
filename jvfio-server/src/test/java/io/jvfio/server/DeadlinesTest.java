package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.EventFd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Stalled clients meet the deadlines: each is disconnected with a log line that says what it sent,
 * and the next client is served. And a client that connects while another is served is closed
 * at once. Deadlines are short here; nothing is timed, the tests wait for outcomes.
 */
class DeadlinesTest extends ServerTestBase {
    private static final Duration HANDSHAKE = Duration.ofSeconds(1), MESSAGE = Duration.ofMillis(500);

    private LogLines log;

    @BeforeEach
    void startServer() throws IOException {
        log = new LogLines();
        start(ServerOptions.defaults().withDeadlines(Deadlines.defaults().withHandshake(HANDSHAKE).withMessage(MESSAGE)));
    }

    @AfterEach
    void stopLog() {
        log.close();
    }

    private static byte[] regionWrite(int id, int bytes) {
        return TestPeer.message(id, Command.REGION_WRITE.code(), 0, 0, TestPeer.regionWrite(0, 0, new byte[bytes]));
    }

    /** The next client connects, negotiates and reads BAR 0: the server has gone on. */
    private void nextClientIsServed() throws IOException {
        TestPeer next = client();
        next.write(0, 8, new byte[] {1, 2, 3, 4});
        assertThat(next.read(0, 8, 4)).containsExactly(1, 2, 3, 4);
    }

    @Test
    void aClientThatSendsHalfAHeaderIsDisconnected() throws Exception {
        TestPeer stalled = client();
        stalled.sendRaw(Arrays.copyOf(regionWrite(7, 64), Header.SIZE / 2));
        assertThat(stalled.serverHungUp()).isTrue();
        assertThat(log.await("disconnecting client pid " + ProcessHandle.current().pid(), "message deadline",
                "received 8 of the 16 header bytes")).startsWith("WARNING");
        nextClientIsServed();
    }

    @Test
    void aClientThatSendsAHeaderAndHalfThePayloadWithAnFdIsDisconnectedAndTheFdClosed() throws Exception {
        TestPeer stalled = client();
        byte[] write = regionWrite(7, 64);
        try (EventFd e = EventFd.create()) {
            stalled.sendRaw(Arrays.copyOf(write, Header.SIZE + 20), List.of(e.fd()));
        }
        assertThat(stalled.serverHungUp()).isTrue();
        log.await("message deadline", "received 36 of the " + write.length + " bytes of message 7 (REGION_WRITE)");
        nextClientIsServed(); // the base class checks the eventfd was closed with the rest
    }

    @Test
    void aClientThatConnectsAndNeverSendsIsDisconnected() throws Exception {
        TestPeer silent = connect();
        assertThat(silent.serverHungUp()).isTrue();
        log.await("no VERSION within the handshake deadline", "received nothing");
        nextClientIsServed();
    }

    @Test
    void aClientThatStallsInTheMiddleOfVersionIsDisconnected() throws Exception {
        TestPeer stalled = connect();
        byte[] version = TestPeer.message(1, Command.VERSION.code(), 0, 0, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON));
        stalled.sendRaw(Arrays.copyOf(version, Header.SIZE + 10));
        assertThat(stalled.serverHungUp()).isTrue();
        // The message deadline (shorter here) runs out before the handshake's.
        log.await("message deadline", "received 26 of the " + version.length + " bytes of message 1 (VERSION)");
        nextClientIsServed();
    }

    @Test
    void aClientThatTricklesAMessageByteByByteIsDisconnectedBeforeItEnds() throws Exception {
        TestPeer slow = client();
        byte[] write = regionWrite(9, 4000);
        int sent = 0;
        // At 20 ms a byte the message would take 80 s, far past the deadline: the server must cut in.
        while (sent < write.length && !hungUp(slow)) {
            try {
                slow.sendRaw(Arrays.copyOfRange(write, sent, sent + 1));
            } catch (LinuxException e) {
                break; // EPIPE/ECONNRESET: it hung up between our look and the send
            }
            sent++;
            Thread.sleep(20);
        }
        assertThat(sent).as("bytes sent before the server hung up").isLessThan(write.length);
        assertThat(slow.serverHungUp()).isTrue();
        log.await("message deadline", "bytes of message 9 (REGION_WRITE)");
        nextClientIsServed();
    }

    private static boolean hungUp(TestPeer peer) throws LinuxException {
        return Linux.poll(peer.socket().fd(), TestPeer.POLLIN, 0) != 0; // the server sends nothing else here
    }

    @Test
    void aNegotiatedClientMayIdleBetweenMessagesPastEveryDeadline() throws Exception {
        TestPeer idle = client();
        Thread.sleep(HANDSHAKE.plus(MESSAGE).toMillis()); // idle past both deadlines
        assertThat(idle.read(0, 0, 4)).hasSize(4);
        assertThat(log.count("disconnecting client")).isZero();
    }

    @Test
    void aSecondClientWhileOneIsServedIsClosedAtOnceAndTheFirstGoesOn() throws Exception {
        TestPeer first = client();
        TestPeer second = connect();
        assertThat(second.serverHungUp()).as("the second client reads end of stream").isTrue();
        assertThat(log.await("turned away client pid " + ProcessHandle.current().pid(), "is being served (one at a time)"))
                .startsWith("WARNING");
        assertThat(server.turnedAwayConnections()).isEqualTo(1);
        first.write(0, 0, new byte[] {5, 6});
        assertThat(first.read(0, 0, 2)).containsExactly(5, 6);
        first.close();
        nextClientIsServed(); // one that comes once the first has left waits its turn, as before
        assertThat(server.turnedAwayConnections()).isEqualTo(1);
    }

    @Test
    void clientsOneAfterTheOtherAreAllServed() throws Exception {
        for (int i = 0; i < 20; i++) {
            try (TestPeer p = TestPeer.connect(socketPath())) {
                p.negotiate();
                assertThat(p.read(0, 0, 4)).hasSize(4);
            }
        }
        assertThat(server.turnedAwayConnections()).isZero();
    }
}
