package io.jvfio.devices;

import io.jvfio.pci.Bar;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.ByteRegisters;
import io.jvfio.server.Migratable;
import io.jvfio.server.PciDevice;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultVocabulary;
import java.time.Duration;
import java.util.function.IntConsumer;

/**
 * ACCES PCI-IDIO-16: 16 isolated inputs, 16 FET outputs, an interrupt when an input changes.
 * 8-bit registers in BAR 2, INTA. Linux drives it with gpio-pci-idio-16.
 *
 * <p>Live-migratable: its state is the outputs, the inputs as last latched, and the interrupt's
 * enable and pending bits. While a migration has it stopped the card latches no input change;
 * the lines driven meanwhile are taken when it runs again.
 *
 * <p>Faults: besides the core's, a {@link Glitch} on an input line ({@code faults().add(FaultRule.on(id,
 * new FaultMatch.Now(), new Glitch(line, duration)))}).
 */
public class PciIdio16 extends PciDevice implements Migratable {
    public static final int VENDOR_ID = 0x494f, DEVICE_ID = 0x0dc8;

    // BAR 2 register map:      read                   write
    static final int OUT_0_7 = 0x0;         // outputs 0-7            outputs 0-7
    static final int IN_0_7 = 0x1;          // inputs 0-7             clear interrupt
    static final int IRQ_CONTROL = 0x2;     // enable interrupt       disable interrupt
    static final int FILTER_CONTROL = 0x3;  // activate filters       deactivate filters (debounce: not emulated)
    static final int OUT_8_15 = 0x4;        // outputs 8-15           outputs 8-15
    static final int IN_8_15 = 0x5;         // inputs 8-15            -
    static final int IRQ_STATUS = 0x6;      // interrupt status       -
    static final int IRQ_PENDING = 1 << 2;  // status bit: an input changed while interrupts were enabled

    private static final String STATE = "idio16";
    private static final int STATE_VERSION = 1;

    private int outputs, inputs;            // 16 lines each
    private int lines;                      // what the outside world drives; latched into inputs while running
    private boolean irqEnabled, irqPending;
    private volatile IntConsumer outputListener = lines -> { };

    /**
     * A fault (issue 18), the action of a {@link FaultMatch.Now} rule: input {@code line} (0-15)
     * flips at once and flips back {@code duration} later — a glitch on the wire. Each flip is an
     * input change, so the card raises its interrupt for each, as it does for any change, if the
     * driver enabled it.
     */
    public record Glitch(int line, Duration duration) implements FaultAction {
        public Glitch {
            if (line < 0 || line > 15) {
                throw new IllegalArgumentException("the card has input lines 0-15, not " + line);
            }
            if (duration.isNegative() || duration.isZero()) {
                throw new IllegalArgumentException("a glitch lasts a positive time, not " + duration);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.Now;
        }
    }

    public PciIdio16() {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(VENDOR_ID).deviceId(DEVICE_ID)
                .subsystemVendorId(VENDOR_ID).subsystemId(DEVICE_ID)
                .classCode(0xff0000)        // unclassified, as the card reports
                .interruptPin(1)
                .bar(Bar.memory32(2, 0x100))
                .build());
        bar(2, new ByteRegisters() {
            @Override
            protected int readRegister(int offset) {
                synchronized (PciIdio16.this) {
                    return switch (offset) {
                        case OUT_0_7 -> outputs & 0xff;
                        case OUT_8_15 -> outputs >>> 8;
                        case IN_0_7 -> inputs & 0xff;
                        case IN_8_15 -> inputs >>> 8;
                        case IRQ_CONTROL -> { irqEnabled = true; yield 0; }
                        case IRQ_STATUS -> irqPending ? IRQ_PENDING : 0;
                        default -> 0;
                    };
                }
            }

            @Override
            protected void writeRegister(int offset, int value) {
                synchronized (PciIdio16.this) {
                    int before = outputs;
                    switch (offset) {
                        case OUT_0_7 -> outputs = (outputs & 0xff00) | value;
                        case OUT_8_15 -> outputs = (outputs & 0x00ff) | value << 8;
                        case IN_0_7 -> irqPending = false;
                        case IRQ_CONTROL -> irqEnabled = false;
                        default -> { }
                    }
                    setIntx(irqPending && irqEnabled);
                    if (outputs != before) {
                        outputListener.accept(outputs);
                    }
                }
            }
        });
        faults().addPerformer(action -> action instanceof Glitch glitch && glitch(glitch));
    }

    /** The words fault plans use for the card: {@code glitch} (with {@code on: now}), then the core's. */
    public static FaultVocabulary faultWords() {
        return FaultVocabulary.combine(PciIdio16FaultVocabulary.INSTANCE, FaultVocabulary.core());
    }

    /** {@link #faultWords()}. */
    @Override
    public FaultVocabulary faultVocabulary() {
        return faultWords();
    }

    /** Flips the glitch's line now and back after its duration (a virtual thread waits it out). */
    private boolean glitch(Glitch glitch) {
        int mask = 1 << glitch.line();
        synchronized (this) {
            setInputs(lines ^ mask);
        }
        Thread.ofVirtual().name("idio16-glitch-line-" + glitch.line()).start(() -> {
            try {
                Thread.sleep(glitch.duration());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();   // flip back early rather than leave the line flipped
            }
            synchronized (this) {
                setInputs(lines ^ mask);
            }
        });
        return true;
    }

    /** The 16 output lines as the driver last set them. */
    public synchronized int outputs() {
        return outputs;
    }

    public synchronized int inputs() {
        return inputs;
    }

    /** Drives the 16 input lines; a change raises the interrupt if the driver enabled it. */
    public synchronized void setInputs(int lines) {
        this.lines = lines & 0xffff;
        if (isRunning()) {
            latchInputs();
        }
    }

    private void latchInputs() {
        if (inputs == lines) {
            return;
        }
        inputs = lines;
        inputsChanged();
        if (irqEnabled) {
            irqPending = true;
            setIntx(true);
        }
    }

    /** Called (holding the card's lock) each time the latched inputs change. */
    protected void inputsChanged() {}

    /** Called on the session thread with the 16 output lines whenever the driver changes them. */
    public void onOutputsChanged(IntConsumer listener) {
        outputListener = listener;
    }

    @Override
    protected synchronized void resetDevice() {
        outputs = 0;
        irqEnabled = irqPending = false;
    }

    @Override
    public synchronized void saveState(StateWriter out) {
        out.section(STATE, STATE_VERSION).u16(outputs).u16(inputs).bool(irqEnabled).bool(irqPending);
    }

    @Override
    public synchronized void loadState(StateReader in) throws VfioException {
        StateReader.Section s = in.section(STATE).requireVersion(STATE_VERSION);
        outputs = s.u16();
        inputs = s.u16();
        irqEnabled = s.bool();
        irqPending = s.bool();
        lines = inputs; // the lines stand as the source last saw them until someone here drives them
        // INTx follows from the config space's Interrupt Status, which the core restores.
    }

    /** Waits out an input change in progress; the core has already marked the card stopped. */
    @Override
    public synchronized void quiesce() {}

    /** Latches what the lines did while the card was stopped. */
    @Override
    public synchronized void resume() {
        latchInputs();
    }
}
