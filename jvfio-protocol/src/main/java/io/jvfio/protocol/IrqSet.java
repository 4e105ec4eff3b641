package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * DEVICE_SET_IRQS (8) request = {@code struct vfio_irq_set}: {@code argsz u32 @0, flags u32 @4, index u32 @8,
 * start u32 @12, count u32 @16, data @20}; the reply has no payload. With DATA_BOOL {@code data} holds
 * {@code count} bytes; with DATA_EVENTFD the fds ride as SCM_RIGHTS (argsz never counts them; QEMU sends 20).
 *
 * <p>Decode checks: exactly one data type and one action, no unknown flags, start + count fits in u32,
 * argsz ≥ 20 (+ count with BOOL) and the BOOL bytes present. {@link #checkFds} checks the attached fds.
 */
public record IrqSet(int argsz, int flags, int index, int start, int count, byte[] boolData) implements Payload {
    public static final int SIZE = 20;
    public static final int KNOWN_FLAGS = Vfio.IRQ_SET_DATA_TYPE_MASK | Vfio.IRQ_SET_ACTION_TYPE_MASK;

    public IrqSet {
        boolData = boolData == null ? new byte[0] : boolData.clone();
    }

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

    @Override
    public byte[] boolData() {
        return boolData.clone();
    }

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

    @Override
    public long encodedSize() {
        return SIZE + boolData.length;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, flags);
        Wire.put32(d, 8, index);
        Wire.put32(d, 12, start);
        Wire.put32(d, 16, count);
        Wire.putBytes(d, SIZE, boolData);
    }

    public static IrqSet decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DEVICE_SET_IRQS");
        int argsz = Wire.i32(p, 0);
        int flags = Wire.i32(p, 4);
        int index = Wire.i32(p, 8);
        int start = Wire.i32(p, 12);
        int count = Wire.i32(p, 16);
        long ucount = Integer.toUnsignedLong(count);
        Wire.noUnknownFlags(Integer.toUnsignedLong(flags), KNOWN_FLAGS, "DEVICE_SET_IRQS");
        int data = flags & Vfio.IRQ_SET_DATA_TYPE_MASK;
        int action = flags & Vfio.IRQ_SET_ACTION_TYPE_MASK;
        if (Integer.bitCount(data) != 1) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: flags " + Wire.hex(Integer.toUnsignedLong(flags))
                    + " must name exactly one data type (NONE, BOOL, EVENTFD)");
        }
        if (Integer.bitCount(action) != 1) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: flags " + Wire.hex(Integer.toUnsignedLong(flags))
                    + " must name exactly one action (MASK, UNMASK, TRIGGER)");
        }
        if (Integer.toUnsignedLong(start) + ucount > 0xFFFF_FFFFL) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: start " + Integer.toUnsignedString(start) + " + count "
                    + ucount + " overflows");
        }
        byte[] bools = null;
        long need = SIZE;
        if (data == Vfio.IRQ_SET_DATA_BOOL) {
            need = SIZE + ucount;
            Wire.need(p, need, "DEVICE_SET_IRQS with " + ucount + " BOOL bytes");
            bools = Wire.bytes(p, SIZE, ucount);
        }
        Wire.argsz(ArgSz.unsigned(argsz), need, "DEVICE_SET_IRQS");
        return new IrqSet(argsz, flags, index, start, count, bools);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IrqSet s && s.argsz == argsz && s.flags == flags && s.index == index && s.start == start
                && s.count == count && Arrays.equals(s.boolData, boolData);
    }

    @Override
    public int hashCode() {
        return ((((argsz * 31 + flags) * 31 + index) * 31 + start) * 31 + count) * 31 + Arrays.hashCode(boolData);
    }

    @Override
    public String toString() {
        return "IrqSet[argsz=" + argsz + ", flags=" + Wire.hex(Integer.toUnsignedLong(flags)) + ", index=" + index
                + ", start=" + start + ", count=" + count + ", boolData=" + HexFormat.of().formatHex(boolData) + "]";
    }
}
