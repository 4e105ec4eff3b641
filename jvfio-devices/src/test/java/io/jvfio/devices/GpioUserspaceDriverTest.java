package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Fd;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GPIO card driven by {@link GpioUserspaceDriver}: the client library alone, no VMM. */
class GpioUserspaceDriverTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private PciIdio16 card;
    private VfioUserServer server;
    private int fdsBefore;

    @BeforeEach
    void serve() throws Exception {
        fdsBefore = Fd.openFdCountOfProcess();
        card = new PciIdio16();
        server = VfioUserServer.bind(dir.resolve("gpio.sock"), card, ServerOptions.defaults());
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        assertThat(Fd.openFdCountOfProcess()).as("open fds after the test").isEqualTo(fdsBefore);
    }

    private GpioUserspaceDriver open() throws Exception {
        return GpioUserspaceDriver.open(server.socketPath().orElseThrow());
    }

    @Test
    void setsOutputsAndReadsInputs() throws Exception {
        try (GpioUserspaceDriver gpio = open()) {
            gpio.setOutputs(0xa55a);
            assertThat(card.outputs()).isEqualTo(0xa55a);
            assertThat(gpio.outputs()).isEqualTo(0xa55a);
            card.setInputs(0x1234);
            assertThat(gpio.inputs()).isEqualTo(0x1234);
        }
    }

    @Test
    void waitsForTheInputChangeInterruptAndAcknowledgesIt() throws Exception {
        try (GpioUserspaceDriver gpio = open()) {
            CompletableFuture<OptionalInt> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return gpio.awaitInputChange(BOUND);
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            card.setInputs(0x0081);
            assertThat(waiting.get(BOUND.toSeconds() * 2, TimeUnit.SECONDS)).hasValue(0x0081);
            assertThat(card.interrupts().intxAsserted()).as("the driver cleared the card's interrupt").isFalse();

            // Acknowledged and unmasked: the next change interrupts again.
            card.setInputs(0xff00);
            assertThat(gpio.awaitInputChange(BOUND)).hasValue(0xff00);
            assertThat(gpio.awaitInputChange(Duration.ofMillis(100))).as("no change, no interrupt").isEmpty();
        }
    }

    @Test
    void closingDisablesTheInterrupt() throws Exception {
        try (GpioUserspaceDriver gpio = open()) {
            gpio.setOutputs(1);
        }
        card.setInputs(0xffff);
        assertThat(card.interrupts().intxAsserted()).isFalse();
    }
}
