package io.jvfio.cli.scenarios;

import io.jvfio.devices.PciIdio16;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.Platform;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The GPIO card served to a real Linux guest: jvfio serves a {@link PciIdio16} on a socket inside
 * the guest toolchain's chroot, QEMU boots a Debian kernel whose gpio-pci-idio-16 driver binds to
 * it, and the guest script ({@code gpio-guest.sh}) sets outputs, reads inputs and waits for an
 * input-change interrupt, which this side raises once the guest has armed it. One server outlives
 * many guests, so reboots and QEMU restarts can be exercised.
 */
public final class GpioGuestScenario implements AutoCloseable {
    /** The input lines the Java side drives before the guest reads them. */
    public static final int INPUTS = 0xa5c3;
    /** Outputs 0, 2 and 15, as the guest script sets them. */
    public static final int OUTPUTS_SET_BY_GUEST = 0x8005;

    private final GuestToolchain toolchain;
    private final Path dir;
    private final Initramfs initramfs;
    private final PciIdio16 card = new PciIdio16();
    private final VfioUserServer server;
    private final Consumer<String> log;

    /** Where the host side reads the guest's console: a {@link QemuGuest}, or a console log a VMM writes. */
    @FunctionalInterface
    public interface GuestConsole {
        /** Whether a console line (already printed or new) matches within {@code timeout}. */
        boolean awaitLine(Predicate<String> line, Duration timeout) throws InterruptedException;
    }

    public GpioGuestScenario(GuestToolchain toolchain, Consumer<String> log) throws IOException {
        this(toolchain, log, Platform.none());
    }

    /** With {@code platform}'s extensions applied to the card. */
    public GpioGuestScenario(GuestToolchain toolchain, Consumer<String> log, Platform platform) throws IOException {
        this.toolchain = toolchain;
        this.log = log;
        this.dir = Files.createDirectories(toolchain.runRoot()).resolve("gpio-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        Files.createDirectories(dir);
        this.initramfs = Initramfs.builder(toolchain)
                .modules("gpio-pci-idio-16")
                .program("/usr/bin/lspci")
                .script(guestScript())
                .build(dir.resolve("initramfs.img"));
        card.setInputs(INPUTS);
        card.onOutputsChanged(lines -> log.accept("guest set the outputs to 0x%04x".formatted(lines)));
        this.server = VfioUserServer.bind(dir.resolve("gpio.sock"), card, ServerOptions.defaults(), platform);
        server.start();
    }

    private static String guestScript() throws IOException {
        try (InputStream in = GpioGuestScenario.class.getResourceAsStream("gpio-guest.sh")) {
            if (in == null) {
                throw new IOException("gpio-guest.sh is missing from the jvfio-cli jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    public PciIdio16 card() {
        return card;
    }

    public VfioUserServer server() {
        return server;
    }

    /** Options for a guest attached to this scenario's card. */
    public GuestOptions guestOptions(boolean sharedMemory) {
        return guestOptions(sharedMemory, server.socketPath().orElseThrow());
    }

    /** Options for a guest whose vfio-user device connects to {@code socket} (e.g. a trace proxy in front of the card). */
    public GuestOptions guestOptions(boolean sharedMemory, Path socket) {
        return QemuGuest.options()
                .initramfs(initramfs.path())
                .sharedMemory(sharedMemory)
                .vfioUserDevice(socket)
                .timeout(Duration.ofSeconds(180));
    }

    /** The guest's initramfs (in {@link #directory()}): the driver module, lspci and {@code gpio-guest.sh}. */
    public Path initramfs() {
        return initramfs.path();
    }

    /** A directory inside the chroot for this scenario's extra sockets. */
    public Path directory() {
        return dir;
    }

    /**
     * Launches a prepared guest and plays the host side for {@code boots} boots (see {@link #startHostSide}).
     * Returns when QEMU has exited.
     */
    public GuestResult run(QemuGuest guest, int boots) throws IOException, InterruptedException {
        Thread host = startHostSide(guest::awaitConsoleLine, boots);
        guest.launch();
        GuestResult result = guest.awaitExit();
        host.interrupt();
        host.join(5000);
        return result;
    }

    /**
     * Plays the host side for {@code boots} boots of a guest whose console is {@code console}: each time the
     * guest arms its interrupt, toggles input 0. The thread ends after the last boot, when a boot does not arm
     * its interrupt in time, or when interrupted.
     */
    public Thread startHostSide(GuestConsole console, int boots) {
        return Thread.ofPlatform().daemon().name("gpio-host-side").start(() -> {
            try {
                for (int boot = 1; boot <= boots; boot++) {
                    String armed = "irq-armed boot=" + boot;
                    if (!console.awaitLine(l -> l.contains(armed), Duration.ofSeconds(150))) {
                        return;
                    }
                    log.accept("guest armed its input interrupt (boot %d): toggling input 0".formatted(boot));
                    card.setInputs(INPUTS ^ 1);
                    Thread.sleep(300);
                    card.setInputs(INPUTS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Waits until the server has noticed that its client is gone. */
    public boolean awaitNoClient(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (server.hasClient() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        return !server.hasClient();
    }

    @Override
    public void close() {
        server.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
