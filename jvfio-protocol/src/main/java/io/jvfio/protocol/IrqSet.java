package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u32;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_SET_IRQS (8) request = {@code struct vfio_irq_set} ({@link #STRUCT}), then the data; the reply has
 * no payload. With DATA_BOOL the data is {@code count} bytes; with DATA_EVENTFD the fds ride as SCM_RIGHTS
 * (argsz never counts them; QEMU sends 20).
 *
 * <p>Decode checks: exactly one data type and one action, no unknown flags, start + count fits in u32,
 * argsz ≥ 20 (+ count with BOOL) and the BOOL bytes present. {@link #checkFds} checks the attached fds.
 */
public record IrqSet(int argsz, int flags, int index, int start, int count, byte[] boolData) implements StructPayload {
    static final Struct<IrqSet> STRUCT = Struct.of(IrqSet.class, "DEVICE_SET_IRQS",
            u32("argsz"), u32("flags"), u32("index"), u32("start"), u32("count"));
    public static final int SIZE = STRUCT.size();
    public static final int KNOWN_FLAGS = Vfio.IRQ_SET_DATA_TYPE_MASK | Vfio.IRQ_SET_ACTION_TYPE_MASK;

    public IrqSet { boolData = boolData == null ? new byte[0] : boolData.clone(); }

    /** DATA_EVENTFD + {@code action}; attach {@code count} eventfds (or none to de-assign). */
    public static IrqSet eventfds(int index, int action, int start, int count) {
        return new IrqSet(SIZE, Vfio.IRQ_SET_DATA_EVENTFD | action, index, start, count, null);
    }

    /** DATA_NONE + {@code action}. count 0 with TRIGGER disables the whole index. */
    public static IrqSet none(int index, int action, int start, int count) {
        return new IrqSet(SIZE, Vfio.IRQ_SET_DATA_NONE | action, index, start, count, null);
    }

    /** DATA_BOOL + {@code action}: one byte per vector, act where non-zero. */
    public static IrqSet bools(int index, int action, int start, byte[] data) {
        return new IrqSet(SIZE + data.length, Vfio.IRQ_SET_DATA_BOOL | action, index, start, data.length, data);
    }

    @Override public byte[] boolData() { return boolData.clone(); }

    public int dataType() {
        return flags & Vfio.IRQ_SET_DATA_TYPE_MASK;
    }

    public int action() {
        return flags & Vfio.IRQ_SET_ACTION_TYPE_MASK;
    }

    public boolean isEventfd() {
        return dataType() == Vfio.IRQ_SET_DATA_EVENTFD;
    }

    /** Number of fds a fully-populated request carries: count with DATA_EVENTFD, else 0. */
    public int expectedFdCount() {
        return isEventfd() ? count : 0;
    }

    /** EINVAL unless {@code fds} is 0 (de-assign, or no fd-carrying data type) or exactly {@link #expectedFdCount()}. */
    public void checkFds(int fds) throws ProtocolException {
        if (fds == 0) {
            return;
        }
        if (!isEventfd()) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: " + fds + " fds attached without DATA_EVENTFD");
        }
        if (fds != count) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: " + fds + " fds attached for count " + Integer.toUnsignedString(count));
        }
    }

    /** Whether sub-index {@code start + i} is selected (BOOL: byte non-zero; otherwise always). */
    public boolean selected(int i) {
        return dataType() != Vfio.IRQ_SET_DATA_BOOL || boolData[i] != 0;
    }

    public static IrqSet decode(MemorySegment p) throws ProtocolException {
        IrqSet s = STRUCT.decode(p, (Object) null);
        long ucount = Integer.toUnsignedLong(s.count);
        Wire.noUnknownFlags(Integer.toUnsignedLong(s.flags), KNOWN_FLAGS, "DEVICE_SET_IRQS");
        if (Integer.bitCount(s.dataType()) != 1) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: flags " + Wire.hex(Integer.toUnsignedLong(s.flags))
                    + " must name exactly one data type (NONE, BOOL, EVENTFD)");
        }
        if (Integer.bitCount(s.action()) != 1) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: flags " + Wire.hex(Integer.toUnsignedLong(s.flags))
                    + " must name exactly one action (MASK, UNMASK, TRIGGER)");
        }
        if (Integer.toUnsignedLong(s.start) + ucount > 0xFFFF_FFFFL) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: start " + Integer.toUnsignedString(s.start) + " + count "
                    + ucount + " overflows");
        }
        long need = SIZE;
        if (s.dataType() == Vfio.IRQ_SET_DATA_BOOL) {
            need = SIZE + ucount;
            Wire.need(p, need, "DEVICE_SET_IRQS with " + ucount + " BOOL bytes");
            s = new IrqSet(s.argsz, s.flags, s.index, s.start, s.count, Wire.bytes(p, SIZE, ucount));
        }
        Wire.argsz(ArgSz.unsigned(s.argsz), need, "DEVICE_SET_IRQS");
        return s;
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
