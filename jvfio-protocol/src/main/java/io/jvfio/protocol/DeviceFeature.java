package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * DEVICE_FEATURE (16) request and reply: {@code argsz u32 @0, flags u32 @4, data @8} (all bytes after the
 * 8-byte struct, as given by msg_size). flags bits 0-15 = feature index, GET/SET/PROBE above. GET and SET
 * are exclusive except with PROBE (as in the kernel). Typed data: {@link FeatureMigration},
 * {@link FeatureMigDeviceState}, {@link FeatureDmaLoggingControl}, {@link FeatureDmaLoggingReport}.
 *
 * <p>Replies: SET/PROBE echo the request; GET appends the data and argsz becomes 8 + data
 * ({@link #getReply}, which refuses with EINVAL when the request's argsz cannot hold it).
 */
public record DeviceFeature(int argsz, int flags, byte[] data) implements Payload {
    public static final int SIZE = 8;
    public static final int KNOWN_FLAGS = Vfio.DEVICE_FEATURE_MASK | Vfio.DEVICE_FEATURE_GET
            | Vfio.DEVICE_FEATURE_SET | Vfio.DEVICE_FEATURE_PROBE;

    public DeviceFeature {
        data = data == null ? new byte[0] : data.clone();
    }

    /** A request whose argsz is exactly the struct plus {@code data}. */
    public static DeviceFeature of(int flags, Payload data) {
        byte[] b = data == null ? new byte[0] : data.toBytes();
        return new DeviceFeature(SIZE + b.length, flags, b);
    }

    /** A GET request for {@code feature} offering {@code replyDataSize} bytes of reply data. */
    public static DeviceFeature get(int feature, long replyDataSize, Payload requestData) {
        byte[] b = requestData == null ? new byte[0] : requestData.toBytes();
        long argsz = SIZE + Math.max(replyDataSize, b.length);
        Wire.checkU32(argsz, "argsz");
        return new DeviceFeature((int) argsz, feature | Vfio.DEVICE_FEATURE_GET, b);
    }

    /** The GET reply to {@code request}: same flags, argsz = 8 + data; EINVAL if the offered argsz is too small. */
    public static DeviceFeature getReply(DeviceFeature request, Payload data) throws ProtocolException {
        byte[] b = data.toBytes();
        ArgSz.require(ArgSz.unsigned(request.argsz), SIZE + (long) b.length, "DEVICE_FEATURE " + request.feature() + " GET");
        return new DeviceFeature(SIZE + b.length, request.flags, b);
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** Read-only view of the data. */
    public MemorySegment dataSegment() {
        return MemorySegment.ofArray(data).asReadOnly();
    }

    public int feature() {
        return flags & Vfio.DEVICE_FEATURE_MASK;
    }

    public boolean isGet() {
        return (flags & Vfio.DEVICE_FEATURE_GET) != 0;
    }

    public boolean isSet() {
        return (flags & Vfio.DEVICE_FEATURE_SET) != 0;
    }

    public boolean isProbe() {
        return (flags & Vfio.DEVICE_FEATURE_PROBE) != 0;
    }

    @Override
    public long encodedSize() {
        return SIZE + data.length;
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        Wire.put32(d, 0, argsz);
        Wire.put32(d, 4, flags);
        Wire.putBytes(d, SIZE, data);
    }

    public static DeviceFeature decode(MemorySegment p) throws ProtocolException {
        Wire.need(p, SIZE, "DEVICE_FEATURE");
        int argsz = Wire.i32(p, 0);
        int flags = Wire.i32(p, 4);
        Wire.argsz(ArgSz.unsigned(argsz), SIZE, "DEVICE_FEATURE");
        Wire.noUnknownFlags(Integer.toUnsignedLong(flags), KNOWN_FLAGS, "DEVICE_FEATURE");
        if ((flags & Vfio.DEVICE_FEATURE_PROBE) == 0 && (flags & Vfio.DEVICE_FEATURE_GET) != 0
                && (flags & Vfio.DEVICE_FEATURE_SET) != 0) {
            throw ProtocolException.invalid("DEVICE_FEATURE: GET and SET together need PROBE");
        }
        return new DeviceFeature(argsz, flags, Wire.bytes(p, SIZE, p.byteSize() - SIZE));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeviceFeature f && f.argsz == argsz && f.flags == flags && Arrays.equals(f.data, data);
    }

    @Override
    public int hashCode() {
        return (argsz * 31 + flags) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "DeviceFeature[argsz=" + argsz + ", flags=" + Wire.hex(Integer.toUnsignedLong(flags)) + ", data="
                + HexFormat.of().formatHex(data) + "]";
    }
}
