package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Live upgrade of a GPIO card's server (two servers in one JVM): jvfio's client stays connected
 * and keeps writing outputs while the server is replaced again and again; a successor that dies
 * half-way or serves another device leaves the old server serving.
 */
class GpioLiveUpgradeTest {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX;
    private static final int UPGRADES = 20;
    private static final Duration WAIT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    private Path socket, control;
    private VfioUserServer first;
    private VfioUserClient client;
    private EventFd intx;
    /** The client's traffic: a thread writing outputs and reading them back until stopped. */
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicInteger lastWritten = new AtomicInteger(-1), exchanges = new AtomicInteger();
    private final AtomicReference<Throwable> clientFailure = new AtomicReference<>();
    private Thread traffic;

    @BeforeEach
    void serveAndConnect() throws Exception {
        socket = served.dir().resolve("gpio.sock");
        control = served.dir().resolve("gpio.ctl");
        first = served.closeLater(VfioUserServer.bind(socket, new PciIdio16(), ServerOptions.defaults()));
        first.offerHandover(control);
        first.start();
        client = served.closeLater(VfioUserClient.connect(socket));
        intx = served.closeLater(EventFd.create());
        client.setIrqEventfds(Vfio.PCI_INTX_IRQ_INDEX, 0, List.of(intx));
        client.read8(BAR2, PciIdio16.IRQ_CONTROL); // the driver enables the input interrupt
        traffic = Thread.ofPlatform().name("gpio-driver").start(() -> {
            try {
                for (int i = 1; !stop.get(); i++) {
                    int value = i & 0xff;
                    client.write8(BAR2, PciIdio16.OUT_0_7, value);
                    lastWritten.set(value);
                    assertThat(client.read8(BAR2, PciIdio16.OUT_0_7)).isEqualTo(value);
                    exchanges.incrementAndGet();
                }
            } catch (Throwable t) {
                clientFailure.set(t);
            }
        });
    }

    @AfterEach
    void stopTraffic() throws Exception {
        stop.set(true);
        traffic.join(10_000);
    }

    private static void await(Await.Condition condition) throws Exception {
        assertThat(Await.until(WAIT, condition)).as("waited %s", WAIT).isTrue();
    }

    /** Waits for {@code more} exchanges of the client with whichever server serves it now. */
    private void awaitTraffic(int more) throws Exception {
        int target = exchanges.get() + more;
        await(() -> exchanges.get() >= target || clientFailure.get() != null);
        assertThat(clientFailure.get()).as("the client's traffic").isNull();
    }

    private VfioUserServer takeOver(PciIdio16 card) throws IOException {
        VfioUserServer next = served.closeLater(VfioUserServer.takeOver(control, card, ServerOptions.defaults()));
        next.offerHandover(control);
        next.start();
        return next;
    }

    @Test
    void theClientStaysConnectedAcrossRepeatedUpgrades() throws Exception {
        awaitTraffic(100);
        VfioUserServer old = first;
        PciIdio16 card = null;
        List<Long> pauses = new ArrayList<>();
        for (int i = 0; i < UPGRADES; i++) {
            card = new PciIdio16();
            VfioUserServer next = takeOver(card);
            await(old::handedOver);
            old.close(); // the old process exits: nothing of the client's goes with it
            awaitTraffic(20);
            VfioUserServer now = next;
            await(() -> now.handoverPauseNanos().isPresent());
            pauses.add(now.handoverPauseNanos().getAsLong());
            old = next;
        }
        stop.set(true);
        traffic.join(10_000);
        assertThat(clientFailure.get()).as("the client saw no error and no disconnect").isNull();
        assertThat(card.outputs() & 0xff).as("the last output written, on the last server's card").isEqualTo(lastWritten.get());
        assertThat(old.stats().connections()).as("no client connected to the successor: it took over the connection").isZero();

        // The INTx eventfd the client gave the first server fires from the last one.
        card.setInputs(0x0001);
        assertThat(intx.await(Duration.ofSeconds(5))).as("INTx through the eventfd that crossed %d upgrades", UPGRADES).isTrue();
        assertThat(client.read8(BAR2, PciIdio16.IRQ_STATUS) & PciIdio16.IRQ_PENDING).isNotZero();
        printPauses("GPIO", pauses);
    }

    /** What a test prints of the pauses: min, median, max over the upgrades. */
    static void printPauses(String device, List<Long> nanos) {
        List<Long> sorted = nanos.stream().sorted().toList();
        System.out.printf("live upgrade of %s, %d upgrades: pause (old server's last command handled to new server's first) min %.2f ms, median %.2f ms, max %.2f ms%n",
                device, sorted.size(), sorted.getFirst() / 1e6, sorted.get(sorted.size() / 2) / 1e6, sorted.getLast() / 1e6);
    }

    @Test
    void aSuccessorThatDiesHalfWayLeavesTheOldServerServing() throws Exception {
        awaitTraffic(50);
        try (UnixSocket successor = UnixSocket.connect(control)) {
            successor.send(frame(1)); // HELLO
            MemorySegment header = MemorySegment.ofArray(new byte[16]);
            List<io.jvfio.linux.Fd> fds = new ArrayList<>();
            assertThat(successor.receiveFully(header, fds)).as("the state frame's header").isTrue();
            assertThat(header.get(LE_INT, 4)).as("frame kind STATE").isEqualTo(2);
            fds.forEach(io.jvfio.linux.Fd::close);
        } // the successor dies with the state half-read and no ack
        awaitTraffic(100);
        assertThat(first.handedOver()).isFalse();
        assertThat(first.hasClient()).isTrue();

        // Still the same card, running: an input change raises INTx; and a real successor can still take over.
        PciIdio16 card = new PciIdio16();
        await(() -> control.toFile().exists());
        takeOver(card);
        await(first::handedOver);
        awaitTraffic(50);
    }

    @Test
    void aSuccessorServingAnotherDeviceIsRefusedAndTheOldServerServesOn() throws Exception {
        awaitTraffic(50);
        assertThatThrownBy(() -> VfioUserServer.takeOver(control, new PciIdio16Diagnostics(), ServerOptions.defaults()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not the same device")
                .hasMessageContaining(PciIdio16Diagnostics.class.getName());
        awaitTraffic(100);
        assertThat(first.handedOver()).isFalse();
        await(() -> control.toFile().exists());
        takeOver(new PciIdio16());
        await(first::handedOver);
        awaitTraffic(50);
    }

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A hand-over frame with no body (the control protocol's header: magic, kind, fds, length). */
    private static MemorySegment frame(int kind) {
        MemorySegment f = MemorySegment.ofArray(new byte[16]);
        f.set(LE_INT, 0, 0x4a564849);
        f.set(LE_INT, 4, kind);
        return f;
    }
}
