package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.Cli;
import io.jvfio.cli.trace.TraceProxy;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.testing.GuestTests;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** jvfio's client-side tools against a real QEMU and guest: trace in the middle, lspci afterwards. */
class GpioGuestToolsTest {
    private GpioGuestScenario scenario;

    @BeforeEach
    void serve() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        scenario = new GpioGuestScenario(GuestToolchain.locate(), line -> { });
    }

    @AfterEach
    void stop() {
        if (scenario != null) {
            scenario.close();
        }
    }

    @Test
    void traceShowsEveryMessageOfAQemuBootAndChangesNothing() throws Exception {
        List<String> trace = Collections.synchronizedList(new ArrayList<>());
        GuestResult result;
        try (TraceProxy proxy = TraceProxy.bind(scenario.directory().resolve("trace.sock"),
                scenario.server().socketPath().orElseThrow(), trace::add).start();
             QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(true, proxy.listenPath()))) {
            result = scenario.run(guest, 1);
        }
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(scenario.card().outputs()).isEqualTo(GpioGuestScenario.OUTPUTS_SET_BY_GUEST);
        synchronized (trace) {
            System.out.println("jvfio trace of one QEMU boot (" + trace.size() + " lines), first 60:");
            trace.stream().limit(60).forEach(System.out::println);
            assertThat(trace).anyMatch(l -> l.contains("C>S") && l.contains("VERSION cmd"));
            assertThat(trace).anyMatch(l -> l.contains("S>C") && l.contains("VERSION reply"));
            assertThat(trace).anyMatch(l -> l.contains("DMA_MAP cmd") && l.contains("fds=1"));
            assertThat(trace).anyMatch(l -> l.contains("DEVICE_SET_IRQS cmd") && l.contains("fds=1"));
            assertThat(trace).anyMatch(l -> l.contains("REGION_WRITE") && l.contains("region=2(BAR2)"));
            assertThat(trace).noneMatch(l -> l.contains("undecodable"));
        }
    }

    @Test
    void lspciOfTheServerAgreesWithTheGuestsLspci() throws Exception {
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(GuestToolchain.locate(), scenario.guestOptions(true))) {
            result = scenario.run(guest, 1);
        }
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(scenario.awaitNoClient(java.time.Duration.ofSeconds(10))).isTrue();
        // The guest printed `lspci -nn -k` then `lspci -vv`; the device keeps what the guest programmed.
        List<String> guest = result.lines().stream().map(String::strip).toList();
        Cli.Run ours = Cli.run("lspci", "-vv", "--lspci-only", scenario.server().socketPath().orElseThrow().toString());
        assertThat(ours.exit()).as(ours.err()).isZero();
        List<String> mine = ours.out().lines().map(String::strip).toList();
        System.out.println("jvfio lspci -vv after the guest ran:");
        mine.forEach(l -> System.out.println("\t" + l));
        String guestRegion = guest.stream().filter(l -> l.startsWith("Region 2:")).findFirst().orElseThrow();
        assertThat(mine).contains(guestRegion);
        assertThat(mine).contains("Subsystem: Device 494f:0dc8");
        assertThat(mine).anyMatch(l -> l.endsWith("Class ff00: Device 494f:0dc8"));
        assertThat(guest).anyMatch(l -> l.endsWith("Class ff00: Device 494f:0dc8"));
        assertThat(guest).anyMatch(l -> l.startsWith("Interrupt: pin A"));
        assertThat(mine).anyMatch(l -> l.startsWith("Interrupt: pin A"));
        String guestStatus = guest.stream().filter(l -> l.startsWith("Status:")).findFirst().orElseThrow();
        assertThat(mine).contains(guestStatus);
    }
}
