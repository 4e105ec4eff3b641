package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.protocol.Command;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.Platform;
import io.jvfio.server.zpci.ZpciConfig;
import io.jvfio.server.zpci.ZpciExtension;
import io.jvfio.testing.GuestTests;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real Linux guest in QEMU 11.1 binds gpio-pci-idio-16 to the Java GPIO card and uses it:
 * outputs, inputs, input-change interrupts; with and without shared guest memory; across a
 * guest reboot and across a killed QEMU.
 */
class GpioGuestTest {
    private GpioGuestScenario scenario;

    @BeforeEach
    void serve() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        scenario = new GpioGuestScenario(GuestToolchain.locate(), line -> System.out.println("[gpio] " + line));
    }

    @AfterEach
    void stop() {
        if (scenario != null) {
            scenario.close();
        }
    }

    @ParameterizedTest(name = "shared guest memory: {0}")
    @ValueSource(booleans = {true, false})
    void linuxDriverUsesTheJavaCard(boolean sharedMemory) throws Exception {
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(sharedMemory))) {
            result = scenario.run(guest, 1);
        }
        System.out.println(result.console());
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.console()).contains("[494f:0dc8]").contains("Kernel driver in use: pci-idio-16");
        assertThat(result.results()).contains("driver pci-idio-16", "inputs 0x%04x".formatted(GpioGuestScenario.INPUTS));
        assertThat(scenario.card().outputs()).isEqualTo(GpioGuestScenario.OUTPUTS_SET_BY_GUEST);
        var stats = scenario.server().stats();
        assertThat(stats.count(Command.DMA_MAP)).isPositive();
        if (sharedMemory) {
            assertThat(stats.mappedDmaWindows()).as("windows mapped from the memfd").isPositive();
        } else {
            assertThat(stats.mappedDmaWindows()).isZero();
            assertThat(stats.messageDmaWindows()).isPositive();
        }
        System.out.println("commands QEMU sent during one boot: " + stats.commandCounts());
    }

    @Test
    void theZpciPlatformExtensionLeavesQemuUndisturbed() throws Exception {
        scenario.close();
        scenario = new GpioGuestScenario(GuestToolchain.locate(), line -> { },
                Platform.of(new ZpciExtension(ZpciConfig.defaults())));
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(true))) {
            result = scenario.run(guest, 1);
        }
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(scenario.card().outputs()).isEqualTo(GpioGuestScenario.OUTPUTS_SET_BY_GUEST);
    }

    @Test
    void keepsWorkingAcrossAGuestReboot() throws Exception {
        GuestResult result;
        var options = scenario.guestOptions(true).allowReboot(true).bootsToRun(2).appendKernelArgs("jvfio.reboot-once");
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), options)) {
            result = scenario.run(guest, 2);
        }
        assertThat(result.boots()).isEqualTo(2);
        assertThat(result.results()).as(result.describe())
                .anyMatch(r -> r.matches("interrupts [1-9][0-9]* boot=1"))
                .anyMatch(r -> r.matches("interrupts [1-9][0-9]* boot=2"));
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(scenario.server().stats().count(Command.DEVICE_RESET)).as("reset at reboot").isPositive();
    }

    @Test
    void aNewQemuWorksAfterTheOldOneWasKilled() throws Exception {
        try (QemuGuest first = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(true))) {
            first.launch();
            assertThat(first.awaitConsoleLine(l -> l.contains("outputs-set"), Duration.ofSeconds(150))).isTrue();
            first.kill();
        }
        assertThat(scenario.awaitNoClient(Duration.ofSeconds(10))).as("server dropped the dead client").isTrue();
        scenario.card().setInputs(GpioGuestScenario.INPUTS);
        GuestResult second;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(true))) {
            second = scenario.run(guest, 1);
        }
        assertThat(second.passed()).as(second.describe()).isTrue();
        assertThat(scenario.server().stats().connections()).isEqualTo(2);
    }
}
