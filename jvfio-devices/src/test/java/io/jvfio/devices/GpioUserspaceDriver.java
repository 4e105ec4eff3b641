package io.jvfio.devices;

import io.jvfio.client.DeviceException;
import io.jvfio.client.DeviceHandle;
import io.jvfio.client.Interrupts;
import io.jvfio.client.VfioUserClient;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;

/**
 * A userspace driver for the ACCES PCI-IDIO-16 GPIO card that needs no VMM and no kernel: it drives
 * the card through a {@link DeviceHandle} (here the vfio-user client), and does what Linux's
 * gpio-pci-idio-16 driver does.
 *
 * <pre>{@code
 * try (GpioUserspaceDriver gpio = GpioUserspaceDriver.open(Path.of("/tmp/gpio.sock"))) {
 *     gpio.setOutputs(0x00ff);
 *     OptionalInt inputs = gpio.awaitInputChange(Duration.ofSeconds(5));
 * }
 * }</pre>
 *
 * The card has 8-bit registers in BAR 2 (see {@link PciIdio16}) and one interrupt on INTx.
 */
public final class GpioUserspaceDriver implements AutoCloseable {
    private static final int BAR2 = Vfio.PCI_BAR2_REGION_INDEX;
    private static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;

    private final DeviceHandle card;
    private final Interrupts intx;

    private GpioUserspaceDriver(DeviceHandle card, Interrupts intx) {
        this.card = card;
        this.intx = intx;
    }

    /** Opens the card served at {@code socket} (see {@link #open(DeviceHandle)}). */
    public static GpioUserspaceDriver open(Path socket) throws IOException {
        return open(VfioUserClient.connect(socket));
    }

    /**
     * Takes over the card behind {@code card} (closed with the driver, or here if it is no
     * PCI-IDIO-16), quiets it, wires INTx and enables the input-change interrupt.
     */
    public static GpioUserspaceDriver open(DeviceHandle card) throws IOException {
        try {
            int ids = card.read32(CONFIG, 0x00);
            if (ids != (PciIdio16.DEVICE_ID << 16 | PciIdio16.VENDOR_ID)) {
                throw new DeviceException(Errno.ENODEV, "not a PCI-IDIO-16: ids %08x".formatted(ids));
            }
            // As the Linux driver's probe: interrupt off, stale interrupt cleared, then the line wired.
            card.write8(BAR2, PciIdio16.IRQ_CONTROL, 0);
            card.write8(BAR2, PciIdio16.IN_0_7, 0);
            Interrupts intx = card.interrupts(Vfio.PCI_INTX_IRQ_INDEX, 1);
            card.read8(BAR2, PciIdio16.IRQ_CONTROL);          // a read enables the interrupt
            return new GpioUserspaceDriver(card, intx);
        } catch (IOException | RuntimeException e) {
            card.close();
            throw e;
        }
    }

    /** Drives the 16 output lines. */
    public void setOutputs(int lines) throws IOException {
        card.write8(BAR2, PciIdio16.OUT_0_7, lines & 0xff);
        card.write8(BAR2, PciIdio16.OUT_8_15, (lines >>> 8) & 0xff);
    }

    /** The output lines as the card reports them. */
    public int outputs() throws IOException {
        return card.read8(BAR2, PciIdio16.OUT_0_7) | card.read8(BAR2, PciIdio16.OUT_8_15) << 8;
    }

    /** The 16 input lines. */
    public int inputs() throws IOException {
        return card.read8(BAR2, PciIdio16.IN_0_7) | card.read8(BAR2, PciIdio16.IN_8_15) << 8;
    }

    /**
     * Waits up to {@code timeout} for the input-change interrupt and handles it as Linux's interrupt
     * handler does: check the card's status (a shared line may fire for others), read the inputs,
     * clear the card's interrupt, then end the interrupt (unmask INTx). Returns the inputs, or empty
     * if no change came in time.
     */
    public OptionalInt awaitInputChange(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (intx.await(0, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
            boolean ours = (card.read8(BAR2, PciIdio16.IRQ_STATUS) & PciIdio16.IRQ_PENDING) != 0;
            int lines = ours ? inputs() : 0;
            if (ours) {
                card.write8(BAR2, PciIdio16.IN_0_7, 0);       // clear the card's interrupt
            }
            intx.unmask(0);                                   // EOI: the line may fire again
            if (ours) {
                return OptionalInt.of(lines);
            }
        }
        return OptionalInt.empty();
    }

    /** Disables the card's interrupt and closes the connection. */
    @Override
    public void close() {
        try {
            if (card.isConnected()) {
                card.write8(BAR2, PciIdio16.IRQ_CONTROL, 0);
            }
        } catch (IOException e) {
            System.getLogger(GpioUserspaceDriver.class.getName()).log(System.Logger.Level.DEBUG,
                    "disabling the interrupt: " + e.getMessage());
        } finally {
            card.close();
        }
    }

    /** {@code GpioUserspaceDriver SOCKET [OUTPUTS]}: sets the outputs, then prints input changes for 30 s. */
    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: GpioUserspaceDriver SOCKET [OUTPUTS (hex)]");
            System.exit(2);
        }
        try (GpioUserspaceDriver gpio = open(Path.of(args[0]))) {
            if (args.length > 1) {
                gpio.setOutputs(Integer.parseInt(args[1], 16));
            }
            System.out.printf("outputs %04x, inputs %04x%n", gpio.outputs(), gpio.inputs());
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < end) {
                OptionalInt change = gpio.awaitInputChange(Duration.ofNanos(end - System.nanoTime()));
                change.ifPresent(lines -> System.out.printf("inputs changed: %04x%n", lines));
            }
        }
    }
}
