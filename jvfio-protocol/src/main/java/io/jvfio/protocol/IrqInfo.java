package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u32;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_GET_IRQ_INFO (7) request and reply = {@code struct vfio_irq_info} ({@link #STRUCT}). Reply flags:
 * {@link Vfio#IRQ_INFO_EVENTFD} etc.; count = vectors of that type.
 */
public record IrqInfo(int argsz, int flags, int index, int count) implements StructPayload {
    static final Struct<IrqInfo> STRUCT = Struct.of(IrqInfo.class, "DEVICE_GET_IRQ_INFO",
            u32("argsz"), u32("flags"), u32("index"), u32("count")).checkingArgsz();
    public static final int SIZE = STRUCT.size();

    public static IrqInfo request(int index) {
        return new IrqInfo(SIZE, 0, index, 0);
    }

    public static IrqInfo reply(int index, int flags, int count) {
        return new IrqInfo(SIZE, flags, index, count);
    }

    public static IrqInfo decode(MemorySegment p) throws ProtocolException {
        return STRUCT.decode(p);
    }
}
