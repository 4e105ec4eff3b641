package io.jvfio.devices;

import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.ByteRegisters;
import io.jvfio.server.PciDevice;

/**
 * ACCES PCI-IDIO-16: 16 isolated digital inputs, 16 FET outputs, an interrupt on input change.
 * Registers are 8-bit, in BAR 2; Linux drives the card with gpio-pci-idio-16.
 */
public class PciIdio16 extends PciDevice {
    public static final int VENDOR_ID = 0x494f, DEVICE_ID = 0x0dc8;

    // BAR 2 register map (read meaning / write meaning).
    static final int OUT_0_7 = 0x0;            // outputs 0-7        / outputs 0-7
    static final int IN_0_7 = 0x1;             // inputs 0-7         / clear interrupt
    static final int IRQ_CONTROL = 0x2;        // enable interrupt   / disable interrupt
    static final int FILTER_CONTROL = 0x3;     // activate filters   / deactivate filters
    static final int OUT_8_15 = 0x4;           // outputs 8-15       / outputs 8-15
    static final int IN_8_15 = 0x5;            // inputs 8-15        / -
    static final int IRQ_STATUS = 0x6;         // interrupt status   / -
    static final int IRQ_PENDING = 1 << 2;     // status: an input changed while interrupts were enabled

    private int outputs;          // 16 bits
    private int inputs;           // 16 bits, driven from the Java side
    private boolean irqEnabled;
    private boolean irqPending;
    private boolean filtersActive;

    public PciIdio16() {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(VENDOR_ID).deviceId(DEVICE_ID)
                .subsystemVendorId(VENDOR_ID).subsystemId(DEVICE_ID)
                .classCode(0xff0000)          // unclassified device, as the card reports
                .interruptPin(1)              // INTA
                .bar(Bar.memory32(2, 0x100))
                .build());
        bar(2, new Registers());
    }

    private final class Registers extends ByteRegisters {
        @Override
        protected int readRegister(int offset) {
            synchronized (PciIdio16.this) {
                return switch (offset) {
                    case OUT_0_7 -> outputs & 0xff;
                    case OUT_8_15 -> outputs >>> 8;
                    case IN_0_7 -> inputs & 0xff;
                    case IN_8_15 -> inputs >>> 8;
                    case IRQ_CONTROL -> { irqEnabled = true; yield 0; }
                    case FILTER_CONTROL -> { filtersActive = true; yield 0; }
                    case IRQ_STATUS -> irqPending ? IRQ_PENDING : 0;
                    default -> 0xff;
                };
            }
        }

        @Override
        protected void writeRegister(int offset, int value) {
            synchronized (PciIdio16.this) {
                switch (offset) {
                    case OUT_0_7 -> outputs = (outputs & 0xff00) | value;
                    case OUT_8_15 -> outputs = (outputs & 0x00ff) | value << 8;
                    case IN_0_7 -> irqPending = false;
                    case IRQ_CONTROL -> irqEnabled = false;
                    case FILTER_CONTROL -> filtersActive = false;
                    default -> { }
                }
                updateIrqLine();
            }
        }
    }

    /** The 16 output lines as the driver last set them. */
    public synchronized int outputs() {
        return outputs;
    }

    /** Drives the 16 input lines; a change raises the interrupt when the driver enabled it. */
    public synchronized void setInputs(int lines) {
        int changed = (inputs ^ lines) & 0xffff;
        inputs = lines & 0xffff;
        if (changed != 0 && irqEnabled) {
            irqPending = true;
            updateIrqLine();
        }
    }

    public synchronized int inputs() {
        return inputs;
    }

    public synchronized boolean filtersActive() {
        return filtersActive;
    }

    private void updateIrqLine() {
        setIntx(irqPending && irqEnabled);
    }

    @Override
    protected synchronized void resetDevice() {
        outputs = 0;
        irqEnabled = false;
        irqPending = false;
        filtersActive = false;
    }
}
