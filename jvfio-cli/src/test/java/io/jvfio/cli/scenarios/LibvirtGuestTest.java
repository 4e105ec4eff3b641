package io.jvfio.cli.scenarios;

import static io.jvfio.cli.scenarios.LibvirtDomainXml.DOMAIN_NAME;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.scenarios.LibvirtDomainXml.Ran;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.testing.GuestTests;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * libvirt runs the domain jvfio ships, {@code dist/libvirt/jvfio-gpio-domain.xml}: {@code virsh define} and
 * {@code virsh start} against a libvirtd of the guest toolchain's chroot (see {@link LibvirtDaemon}), QEMU under
 * TCG with the XML's shared memfd RAM and its {@code vfio-user-pci} device, and the guest's gpio-pci-idio-16 driver
 * uses the Java card as in {@link GpioGuestTest}. The XML is used as shipped but for its directories, which become
 * this run's directory in the chroot.
 */
class LibvirtGuestTest {
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(150);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    private GuestToolchain toolchain;
    private GpioGuestScenario scenario;

    @BeforeEach
    void serve() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        toolchain = GuestToolchain.locate();
        scenario = new GpioGuestScenario(toolchain, line -> System.out.println("[gpio] " + line));
    }

    @AfterEach
    void stop() {
        if (scenario != null) {
            scenario.close();
        }
    }

    @Test
    void virshStartsTheShippedDomainAndLinuxUsesTheJavaCard() throws Exception {
        Path dir = scenario.directory();
        Files.copy(toolchain.kernel(), dir.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
        Path xml = Files.writeString(dir.resolve("domain.xml"), LibvirtDomainXml.placedIn(toolchain.toChrootPath(dir)));
        Path consoleLog = dir.resolve(LibvirtDomainXml.CONSOLE_LOG);
        GpioGuestScenario.GuestConsole console = followed(consoleLog);

        boolean verdictPrinted;
        boolean shutOff;
        try (LibvirtDaemon libvirt = LibvirtDaemon.start(toolchain, dir)) {
            Ran defined = libvirt.virsh("define", toolchain.toChrootPath(xml));
            assertThat(defined.succeeded()).as(defined.output()).isTrue();
            Thread host = scenario.startHostSide(console, 1);
            try {
                Ran started = libvirt.virsh("start", DOMAIN_NAME);
                assertThat(started.succeeded()).as(started.output() + libvirt.log()).isTrue();
                verdictPrinted = console.awaitLine(l -> l.contains(Initramfs.VERDICT_MARKER), BOOT_TIMEOUT);
                // The guest powers off; the XML's on_poweroff has libvirt destroy the domain then.
                shutOff = libvirt.awaitState(DOMAIN_NAME, "shut off", SHUTDOWN_TIMEOUT);
                if (!shutOff) {
                    libvirt.virsh("destroy", DOMAIN_NAME);
                }
            } finally {
                host.interrupt();
                host.join(5000);
            }
            Ran undefined = libvirt.virsh("undefine", DOMAIN_NAME);
            assertThat(undefined.succeeded()).as(undefined.output()).isTrue();
        }

        GuestResult result = GuestResult.of(0, !verdictPrinted, read(consoleLog));
        System.out.println(result.console());
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(shutOff).as("the domain shut off after the guest powered off").isTrue();
        assertThat(result.console()).contains("[494f:0dc8]").contains("Kernel driver in use: pci-idio-16");
        assertThat(result.results())
                .contains("driver pci-idio-16", "inputs 0x%04x".formatted(GpioGuestScenario.INPUTS));
        assertThat(scenario.card().outputs()).isEqualTo(GpioGuestScenario.OUTPUTS_SET_BY_GUEST);
        assertThat(scenario.server().stats().mappedDmaWindows())
                .as("guest RAM mapped from the memfd libvirt made for <memoryBacking>").isPositive();
        assertThat(Files.readString(Path.of("/proc/self/mountinfo")))
                .as("libvirtd's mounts stayed in its namespace")
                .doesNotContain(toolchain.rootfs().resolve("sys").toString());
    }

    /** The console as libvirt logs it to a file, looked at every 100 ms. */
    private static GpioGuestScenario.GuestConsole followed(Path log) {
        return (line, timeout) -> {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!read(log).lines().anyMatch(line)) {
                if (System.nanoTime() - deadline > 0) {
                    return false;
                }
                Thread.sleep(100);
            }
            return true;
        };
    }

    private static String read(Path log) {
        try {
            if (!Files.exists(log)) {
                return "";
            }
            return new String(Files.readAllBytes(log), StandardCharsets.UTF_8).replace("\r", "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
