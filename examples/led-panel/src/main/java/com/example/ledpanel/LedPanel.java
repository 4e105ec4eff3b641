package com.example.ledpanel;

import io.jvfio.pci.Bar;
import io.jvfio.pci.Capabilities;
import io.jvfio.pci.ConfigSpace;
import io.jvfio.server.Migratable;
import io.jvfio.server.PciDevice;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * A panel of eight LEDs and a push button, as a PCI device: one BAR of 32-bit registers and two
 * MSI-X interrupts. The driver lights the LEDs, hears the button, and can hand the panel a blink
 * pattern in its memory, which the panel fetches by DMA and plays.
 *
 * <pre>
 * BAR 0 (4 KiB)  offset  register              access
 *                0x00    ID                    read: 0x4c454431 ("LED1")
 *                0x04    LEDS                  read/write: bit n lights LED n (bits 0-7)
 *                0x08    BUTTON                read: 1 while the button is held
 *                0x0c    IRQ_STATUS            read; write 1s to clear: BUTTON_PRESSED 1, PATTERN_DONE 2, PATTERN_ERROR 4
 *                0x10    PATTERN_ADDRESS_LOW   read/write: where the pattern lies in the driver's memory (DMA address)
 *                0x14    PATTERN_ADDRESS_HIGH
 *                0x18    PATTERN_LENGTH        read/write: its steps, 1-4096, one byte (the LEDS value) each
 *                0x1c    PATTERN_GO            write 1: play it
 *                0x800   MSI-X table, 0xc00 its pending bits
 * MSI-X vector 0: the button was pressed.  Vector 1: a pattern was played (or could not be read).
 * </pre>
 */
public class LedPanel extends PciDevice implements Migratable {
    /** 0x1234 is a vendor id for experiments (QEMU's own test devices use it); a real device has its vendor's. */
    public static final int VENDOR_ID = 0x1234, DEVICE_ID = 0x11ed;
    public static final int CLASS_OTHER_SYSTEM_PERIPHERAL = 0x088000;

    public static final int BAR = 0, BAR_SIZE = 0x1000;
    public static final int ID = 0x00, LEDS = 0x04, BUTTON = 0x08, IRQ_STATUS = 0x0c,
            PATTERN_ADDRESS_LOW = 0x10, PATTERN_ADDRESS_HIGH = 0x14, PATTERN_LENGTH = 0x18, PATTERN_GO = 0x1c;
    public static final int ID_VALUE = 0x4c454431;
    public static final int BUTTON_PRESSED = 1, PATTERN_DONE = 2, PATTERN_ERROR = 4;
    public static final int MAX_PATTERN_LENGTH = 4096;

    public static final int BUTTON_VECTOR = 0, PATTERN_VECTOR = 1, VECTORS = 2;
    static final int MSIX_TABLE = 0x800, MSIX_PENDING_BITS = 0xc00;

    /** A register as the bus carries it: 32 bits, little-endian, at any address (the core checks bounds). */
    private static final ValueLayout.OfInt REGISTER = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final String STATE = "led-panel";
    private static final int STATE_VERSION = 1;

    // Guarded by this panel's lock: the session thread (register accesses), the pattern player and
    // the outside world (the button) all touch them.
    private int leds, irqStatus;
    private long patternAddress;
    private int patternLength;
    /** PATTERN_GO was written and the pattern is not played yet (it travels with a migration). */
    private boolean patternPending;
    /** Bumped by reset and stop: a pattern player started before it drops what it fetched. */
    private int generation;
    private boolean buttonHeld, pressedWhileStopped;
    private volatile IntConsumer ledListener = leds -> { };

    public LedPanel() {
        super(ConfigSpace.builder(ConfigSpace.Size.PCI)
                .vendorId(VENDOR_ID).deviceId(DEVICE_ID)
                .subsystemVendorId(VENDOR_ID).subsystemId(DEVICE_ID)
                .classCode(CLASS_OTHER_SYSTEM_PERIPHERAL)
                .bar(Bar.memory32(BAR, BAR_SIZE))
                .capability(Capabilities.msix(VECTORS, BAR, MSIX_TABLE, BAR, MSIX_PENDING_BITS))
                .build());
        // The core serves the MSI-X table and pending bits itself; every other access to BAR 0 comes here.
        bar(BAR, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) throws VfioException {
                checkRegisterAccess(offset, dst.byteSize());
                dst.set(REGISTER, 0, readRegister((int) offset));
            }

            @Override
            public void write(long offset, MemorySegment src) throws VfioException {
                checkRegisterAccess(offset, src.byteSize());
                writeRegister((int) offset, src.get(REGISTER, 0));
            }
        });
    }

    private static void checkRegisterAccess(long offset, long size) throws VfioException {
        if (size != 4 || offset % 4 != 0) {
            throw VfioException.invalid("the panel's registers are 32-bit: no %d-byte access at 0x%x".formatted(size, offset));
        }
    }

    private synchronized int readRegister(int offset) {
        return switch (offset) {
            case ID -> ID_VALUE;
            case LEDS -> leds;
            case BUTTON -> buttonHeld ? 1 : 0;
            case IRQ_STATUS -> irqStatus;
            case PATTERN_ADDRESS_LOW -> (int) patternAddress;
            case PATTERN_ADDRESS_HIGH -> (int) (patternAddress >>> 32);
            case PATTERN_LENGTH -> patternLength;
            default -> 0;                                   // unused registers read as zero
        };
    }

    private synchronized void writeRegister(int offset, int value) {
        switch (offset) {
            case LEDS -> setLeds(value & 0xff);
            case IRQ_STATUS -> irqStatus &= ~value;         // write 1 to clear
            case PATTERN_ADDRESS_LOW -> patternAddress = (patternAddress & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(value);
            case PATTERN_ADDRESS_HIGH -> patternAddress = (patternAddress & 0xffff_ffffL) | (long) value << 32;
            case PATTERN_LENGTH -> patternLength = value;
            case PATTERN_GO -> {
                if (value == 1 && !patternPending) {
                    patternPending = true;
                    startPattern();
                }
            }
            default -> { }                                  // read-only and unused registers ignore writes
        }
    }

    /**
     * Fetches and plays the pattern on a thread of its own: the driver's memory may be reachable
     * only by DMA messages to it, which the session thread (that called us) cannot wait for.
     */
    private void startPattern() {
        long address = patternAddress;
        int length = patternLength;
        int startedIn = generation;
        Thread.ofVirtual().name("led-panel-pattern").start(() -> play(address, length, startedIn));
    }

    private void play(long address, int length, int startedIn) {
        byte[] steps = null;
        if (length >= 1 && length <= MAX_PATTERN_LENGTH) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment pattern = arena.allocate(length);
                dma().read(address, pattern);
                steps = pattern.toArray(ValueLayout.JAVA_BYTE);
            } catch (VfioException unreadable) {
                // memory the driver never mapped there, or no driver at all: PATTERN_ERROR says so
            }
        }
        synchronized (this) {
            if (startedIn != generation) {
                return;                                     // reset dropped it, or a stop: resume() plays it again
            }
            if (steps != null) {
                for (byte step : steps) {
                    setLeds(step & 0xff);
                }
            }
            patternPending = false;
            irqStatus |= steps != null ? PATTERN_DONE : PATTERN_DONE | PATTERN_ERROR;
            raise(PATTERN_VECTOR);
        }
    }

    private void setLeds(int value) {
        if (value != leds) {
            leds = value;
            ledListener.accept(value);
        }
    }

    /** The LEDs lit now, bit n for LED n. */
    public synchronized int leds() {
        return leds;
    }

    /** Called, holding the panel's lock, with the LEDs each time they change. */
    public void onLedsChanged(IntConsumer listener) {
        ledListener = listener;
    }

    /** The button goes down: BUTTON reads 1, and BUTTON_PRESSED is raised on MSI-X vector 0. */
    public synchronized void pressButton() {
        if (buttonHeld) {
            return;
        }
        buttonHeld = true;
        if (isRunning()) {
            buttonPressed();
        } else {
            pressedWhileStopped = true;                     // a stopped device changes no state: resume() tells
        }
    }

    /** The button comes up. */
    public synchronized void releaseButton() {
        buttonHeld = false;
    }

    private void buttonPressed() {
        irqStatus |= BUTTON_PRESSED;
        raise(BUTTON_VECTOR);
    }

    /** The panel's part of a reset (the core has reset config space and MSI-X): LEDs off, no pattern. */
    @Override
    protected synchronized void resetDevice() {
        setLeds(0);
        irqStatus = 0;
        patternAddress = 0;
        patternLength = 0;
        patternPending = false;
        generation++;
    }

    // Migration, and with it live upgrade: the state a successor needs to carry on where this one stopped.

    @Override
    public synchronized void saveState(StateWriter out) {
        out.section(STATE, STATE_VERSION).u8(leds).u8(irqStatus).u64(patternAddress).u32(patternLength).bool(patternPending);
    }

    @Override
    public synchronized void loadState(StateReader in) throws VfioException {
        StateReader.Section s = in.section(STATE).requireVersion(STATE_VERSION);
        setLeds(s.u8());
        irqStatus = s.u8();
        patternAddress = s.u64();
        patternLength = s.u32();
        patternPending = s.bool();
    }

    /** Drops a pattern in flight (it stays pending, and is saved so); nothing else runs on its own. */
    @Override
    public synchronized void quiesce() {
        generation++;
    }

    /** Plays a pattern the stop interrupted (or the source left pending), and reports a press made meanwhile. */
    @Override
    public synchronized void resume() {
        if (patternPending) {
            startPattern();
        }
        if (pressedWhileStopped) {
            pressedWhileStopped = false;
            buttonPressed();
        }
    }
}
