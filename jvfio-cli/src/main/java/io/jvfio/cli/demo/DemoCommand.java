package io.jvfio.cli.demo;

import io.jvfio.cli.scenarios.GpioGuestScenario;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.QemuGuest;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvfio demo}: serves the GPIO card and boots a Linux guest in QEMU 11.1 whose own
 * gpio-pci-idio-16 driver binds to it, then reports what the driver did to the Java device.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Serve the Java GPIO card to a Linux guest in QEMU and watch the guest's driver use it.",
                "Needs the guest toolchain (scripts/provision-guest.sh; ./jvfio demo runs it for you) and root."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--no-shared-memory",
            description = "Give the guest private RAM, so the device reaches it only through DMA_READ/DMA_WRITE messages.")
    boolean privateMemory;

    @Option(names = "--console", description = "Print the whole guest console, kernel messages included.")
    boolean fullConsole;

    @Override
    public Integer call() throws Exception {
        GuestToolchain toolchain = GuestToolchain.locate();
        System.out.println("jvfio demo: QEMU " + toolchain.qemuVersion() + ", guest kernel " + toolchain.kernelRelease()
                + (privateMemory ? ", private guest RAM" : ", shared guest RAM (memfd)"));
        GuestResult result;
        try (GpioGuestScenario scenario = new GpioGuestScenario(toolchain, line -> System.out.println("  [java]  " + line))) {
            System.out.println("serving the ACCES PCI-IDIO-16 card (494f:0dc8) on " + scenario.server().socketPath().orElseThrow());
            System.out.printf("  [java]  input lines set to 0x%04x%n", GpioGuestScenario.INPUTS);
            System.out.println("booting the guest (TCG, about 10 s) ...");
            try (QemuGuest guest = QemuGuest.prepare(toolchain, scenario.guestOptions(!privateMemory))) {
                result = scenario.run(guest, 1);
            }
            printConsole(result);
            var stats = scenario.server().stats();
            System.out.println();
            System.out.printf("outputs the guest driver set: 0x%04x (expected 0x%04x)%n",
                    scenario.card().outputs(), GpioGuestScenario.OUTPUTS_SET_BY_GUEST);
            System.out.println("vfio-user commands QEMU sent: " + stats.commandCounts());
            System.out.println("DMA windows: " + stats.mappedDmaWindows() + " mapped from guest memory, "
                    + stats.messageDmaWindows() + " reached by message");
            boolean ok = result.passed() && scenario.card().outputs() == GpioGuestScenario.OUTPUTS_SET_BY_GUEST;
            System.out.println(ok ? "PASS: Linux's gpio-pci-idio-16 driver used the Java device."
                    : "FAIL: " + result.describe());
            return ok ? 0 : 1;
        }
    }

    private void printConsole(GuestResult result) {
        boolean inScript = false;
        for (String line : result.lines()) {
            if (line.startsWith("JVFIO-BOOT ")) {
                inScript = true;
            }
            if (fullConsole || inScript) {
                System.out.println("  [guest] " + line);
            }
            if (line.startsWith("JVFIO-VERDICT")) {
                inScript = false;
            }
        }
    }
}
