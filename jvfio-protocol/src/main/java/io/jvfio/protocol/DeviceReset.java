package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** DEVICE_RESET (13): no payload in either direction (extra bytes are ignored on decode). */
public record DeviceReset() implements Payload {
    public static final DeviceReset INSTANCE = new DeviceReset();

    @Override
    public long encodedSize() {
        return 0;
    }

    @Override
    public void encode(MemorySegment dst) {
    }

    public static DeviceReset decode(MemorySegment p) {
        return INSTANCE;
    }
}
