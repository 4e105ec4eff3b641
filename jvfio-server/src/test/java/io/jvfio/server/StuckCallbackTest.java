package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The watchdog over device callbacks: a region read that blocks in the device is reported with the
 * stack of the thread it blocks; with {@link Deadlines.OnStuckCallback#ERROR} the client is
 * answered ETIMEDOUT while the device is still stuck, and the session goes on once it returns.
 */
class StuckCallbackTest extends ServerTestBase {
    private static final Duration BOUND = Duration.ofMillis(200);

    private LogLines log;

    @BeforeEach
    void startLog() {
        log = new LogLines();
    }

    @AfterEach
    void releaseAndStopLog() {
        if (device != null) {
            device.release(); // a failed test must not leave the session thread blocked
        }
        log.close();
    }

    private void start(Deadlines.OnStuckCallback action) throws IOException {
        start(ServerOptions.defaults().withDeadlines(Deadlines.defaults().withStuckCallback(BOUND, action)));
    }

    private void awaitStuck() throws InterruptedException {
        assertThat(device.readsAtGate.tryAcquire(TestPeer.WAIT_MILLIS, TimeUnit.MILLISECONDS)).as("the device call began").isTrue();
    }

    /** Writes {@code data} to BAR 0, then sends a read of it that blocks in the device; returns the read's id. */
    private int stuckRead(TestPeer c, byte[] data) throws Exception {
        c.write(0, 0, data);
        device.stick();
        int id = c.send(Command.REGION_READ, TestPeer.regionRead(0, 0, data.length));
        awaitStuck();
        return id;
    }

    @Test
    void aStuckRegionReadIsReportedWithItsStackAndAnsweredWhenItReturns() throws Exception {
        start(Deadlines.OnStuckCallback.REPORT);
        TestPeer c = client();
        int id = stuckRead(c, new byte[] {9, 8, 7, 6});
        String report = log.await("the device callback for REGION_READ (message " + id + ") has run for", "bound 200 ms");
        assertThat(report).startsWith("WARNING").contains("TestDevice.passGate", "at io.jvfio.server.internal.Session.dispatch");
        device.release();
        try (TestPeer.Msg reply = c.replyTo(id)) {
            assertThat(reply.isError()).as("the reply waited for the device").isFalse();
        }
        log.await("REGION_READ (message " + id + ") returned after", "it is answered now");
        assertThat(c.read(0, 0, 4)).containsExactly(9, 8, 7, 6);
        assertThat(log.count("has run for")).as("one report per stuck call").isEqualTo(1);
    }

    @Test
    void withTheErrorActionTheClientIsAnsweredEtimedoutAndTheSessionGoesOnOnceTheDeviceReturns() throws Exception {
        start(Deadlines.OnStuckCallback.ERROR);
        TestPeer c = client();
        int id = stuckRead(c, new byte[] {1, 2, 3, 4});
        try (TestPeer.Msg reply = c.replyTo(id)) { // the device is still stuck: the watchdog answered
            assertThat(reply.isError()).isTrue();
            assertThat(reply.error()).isEqualTo(Errno.ETIMEDOUT);
        }
        log.await("answered REGION_READ (message " + id + ") with ETIMEDOUT");
        device.release();
        // replyTo checks ids: no second, late reply to the stuck read comes before this one.
        assertThat(c.read(0, 0, 4)).containsExactly(1, 2, 3, 4);
        log.await("REGION_READ (message " + id + ") returned after", "its result is dropped");
        assertThat(server.hasClient()).isTrue();
    }

    @Test
    void withTheErrorActionAStuckIrqSetThatReturnsLateCostsTheClientItsConnection() throws Exception {
        start(Deadlines.OnStuckCallback.ERROR);
        TestPeer c = client();
        device.stick();
        int id = c.send(Command.DEVICE_SET_IRQS, IrqSet.none(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1));
        awaitStuck();
        try (TestPeer.Msg reply = c.replyTo(id)) {
            assertThat(reply.error()).isEqualTo(Errno.ETIMEDOUT);
        }
        device.release();
        assertThat(c.serverHungUp()).as("the client believes the irqs were not set; they were").isTrue();
        log.await("disconnecting client", "completed after the client was told it timed out");
        TestPeer next = client();
        assertThat(next.read(0, 0, 4)).hasSize(4);
    }
}
