package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.MigrationDriver;
import io.jvfio.client.VfioUserClient;
import io.jvfio.client.VfioUserException;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import io.jvfio.testing.Await;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GPIO card moved between two servers while its lines keep changing. */
class GpioMigrationTest {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX, CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;

    @TempDir
    Path dir;
    private ServedDevices devices;

    @BeforeEach
    void setUp() {
        devices = new ServedDevices(dir);
    }

    @AfterEach
    void closeAll() throws Exception {
        devices.close();
    }

    private VfioUserClient serve(PciIdio16 card, String name) throws Exception {
        return devices.serve(card, name);
    }

    private static MigrationDriver.Result migrate(VfioUserClient from, VfioUserClient to) throws Exception {
        return new MigrationDriver(from, to, List.of(), MigrationDriver.Options.defaults().withMaxPreCopyRounds(3), p -> { }).migrate();
    }

    @Test
    void theCardMovesWhileInputsToggleAndTheDriverWritesOutputs() throws Exception {
        PciIdio16 a = new PciIdio16(), b = new PciIdio16();
        VfioUserClient toA = serve(a, "a.sock"), toB = serve(b, "b.sock");
        toA.read8(BAR2, PciIdio16.IRQ_CONTROL); // the driver enables the input interrupt

        AtomicBoolean migrated = new AtomicBoolean();
        Thread inputs = Thread.ofPlatform().name("input-lines").start(() -> {
            SplittableRandom random = new SplittableRandom(1);
            while (!migrated.get()) {
                a.setInputs(random.nextInt(0x10000));
                Thread.onSpinWait();
            }
        });
        // The driver's writes share the source connection, as a VMM's vCPU would; it stops at the
        // first one the stopped device refuses.
        AtomicInteger lastOutputs = new AtomicInteger();
        AtomicInteger writes = new AtomicInteger();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        Thread outputs = Thread.ofPlatform().name("output-writer").start(() -> {
            SplittableRandom random = new SplittableRandom(2);
            int value = 0;
            try {
                while (true) {
                    boolean high = random.nextBoolean();
                    int b8 = random.nextInt(0x100);
                    toA.write8(BAR2, high ? PciIdio16.OUT_8_15 : PciIdio16.OUT_0_7, b8);
                    value = high ? (value & 0x00ff) | b8 << 8 : (value & 0xff00) | b8;
                    lastOutputs.set(value);
                    writes.incrementAndGet();
                }
            } catch (VfioUserException refused) {
                if (refused.errno() != Errno.EINVAL) {
                    writerFailure.set(refused);
                }
            } catch (Throwable t) {
                writerFailure.set(t);
            }
        });
        Await.until(Duration.ofSeconds(10), () -> writes.get() >= 50);
        assertThat(writes.get()).as("outputs written before the migration").isGreaterThanOrEqualTo(50);

        MigrationDriver.Result result;
        try {
            result = migrate(toA, toB);
        } finally {
            migrated.set(true);
            inputs.join(10_000);
            outputs.join(10_000);
        }
        assertThat(writerFailure.get()).isNull();
        assertThat(outputs.isAlive()).as("the writer saw the stopped device refuse").isFalse();
        assertThat(result.deviceBytes()).isPositive();

        assertThat(toA.migrationState()).isEqualTo(MigrationState.STOP);
        assertThat(b.outputs()).as("the last output write the source accepted").isEqualTo(lastOutputs.get()).isEqualTo(a.outputs());
        assertThat(b.inputs()).as("the inputs as the source last latched them").isEqualTo(a.inputs());
        assertThat(toB.read8(BAR2, PciIdio16.IRQ_STATUS)).as("irq pending").isEqualTo(toA.read8(BAR2, PciIdio16.IRQ_STATUS));
        assertThat(toB.regionRead(CONFIG, 0, 256)).as("config space, INTx status included").isEqualTo(toA.regionRead(CONFIG, 0, 256));

        int frozen = a.inputs();
        a.setInputs(~frozen & 0xffff);
        assertThat(a.inputs()).as("the stopped source latches nothing").isEqualTo(frozen);
        toB.write8(BAR2, PciIdio16.IN_0_7, 0); // clear pending on B, then change a line: the enable bit came along
        b.setInputs(~b.inputs() & 0xffff);
        assertThat(toB.read8(BAR2, PciIdio16.IRQ_STATUS)).isEqualTo(PciIdio16.IRQ_PENDING);
    }

    @Test
    void theDiagnosticsVariantTakesItsCountersAlong() throws Exception {
        PciIdio16Diagnostics a = new PciIdio16Diagnostics(), b = new PciIdio16Diagnostics();
        VfioUserClient toA = serve(a, "a.sock"), toB = serve(b, "b.sock");
        for (int i = 1; i <= 5; i++) {
            a.setInputs(i);
        }
        toA.reset();
        migrate(toA, toB);
        assertThat(toB.regionRead(b.diagnosticsRegion(), 0, 12)).isEqualTo(toA.regionRead(a.diagnosticsRegion(), 0, 12));
        assertThat(toB.read32(b.diagnosticsRegion(), PciIdio16Diagnostics.INPUT_CHANGES)).isEqualTo(5);
        assertThat(toB.read32(b.diagnosticsRegion(), PciIdio16Diagnostics.RESETS)).isEqualTo(1);
    }

    @Test
    void aPlainCardRefusesTheVariantsStateAndTheSourceRunsOn() throws Exception {
        PciIdio16Diagnostics a = new PciIdio16Diagnostics();
        PciIdio16 b = new PciIdio16();
        VfioUserClient toA = serve(a, "a.sock"), toB = serve(b, "b.sock");
        toA.write8(BAR2, PciIdio16.OUT_0_7, 0x5a);
        assertThatThrownBy(() -> migrate(toA, toB))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(toA.migrationState()).isEqualTo(MigrationState.RUNNING);
        a.setInputs(0x8000);
        assertThat(a.inputs()).isEqualTo(0x8000);
        assertThat(b.outputs()).isZero();
    }
}
