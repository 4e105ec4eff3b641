package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_GET_IRQ_INFO (7) request and reply = {@code struct vfio_irq_info}: {@code argsz u32 @0, flags u32 @4,
 * index u32 @8, count u32 @12}. Reply flags: {@link Vfio#IRQ_INFO_EVENTFD} etc.; count = vectors of that type.
 */
public record IrqInfo(int argsz, int flags, int index, int count) implements Payload {
    public static final int SIZE = 16;

    public static IrqInfo request(int index) {
        return new IrqInfo(SIZE, 0, index, 0);
    }

    public static IrqInfo reply(int index, int flags, int count) {
        return new IrqInfo(SIZE, flags, index, count);
    }

    @Override
    public long encodedSize() {
        return SIZE;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, SIZE, this);
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, flags);
        Wire.put32(d, 8, index);
        Wire.put32(d, 12, count);
    }

    public static IrqInfo decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DEVICE_GET_IRQ_INFO");
        IrqInfo i = new IrqInfo(Wire.i32(p, 0), Wire.i32(p, 4), Wire.i32(p, 8), Wire.i32(p, 12));
        Wire.argsz(ArgSz.unsigned(i.argsz), SIZE, "DEVICE_GET_IRQ_INFO");
        return i;
    }
}
