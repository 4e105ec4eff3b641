package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * DEVICE_FEATURE (16) request and reply: {@code argsz u32, flags u32}, then the data (all bytes after the
 * 8-byte struct, as given by msg_size). flags bits 0-15 = feature index, GET/SET/PROBE above. GET and SET
 * are exclusive except with PROBE (as in the kernel). Typed data: {@link FeatureMigration},
 * {@link FeatureMigDeviceState}, {@link FeatureDmaLoggingControl}, {@link FeatureDmaLoggingReport}.
 *
 * <p>Replies: SET/PROBE echo the request; GET appends the data and argsz becomes 8 + data
 * ({@link #getReply}, which refuses with EINVAL when the request's argsz cannot hold it).
 */
public record DeviceFeature(int argsz, int flags, byte[] data) implements StructPayload {
    static final Struct<DeviceFeature> STRUCT = Struct.of(DeviceFeature.class, "DEVICE_FEATURE",
            Struct.u32("argsz"), Struct.u32("flags")).checkingArgsz();
    public static final int SIZE = STRUCT.size();
    public static final int KNOWN_FLAGS = Vfio.DEVICE_FEATURE_MASK | Vfio.DEVICE_FEATURE_GET
            | Vfio.DEVICE_FEATURE_SET | Vfio.DEVICE_FEATURE_PROBE;

    public DeviceFeature { data = data == null ? new byte[0] : data.clone(); }

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

    @Override public byte[] data() { return data.clone(); }

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

    public static DeviceFeature decode(MemorySegment p) throws ProtocolException {
        DeviceFeature f = STRUCT.decode(p, (Object) null);
        Wire.noUnknownFlags(Integer.toUnsignedLong(f.flags), KNOWN_FLAGS, "DEVICE_FEATURE");
        if (!f.isProbe() && f.isGet() && f.isSet()) {
            throw ProtocolException.invalid("DEVICE_FEATURE: GET and SET together need PROBE");
        }
        return new DeviceFeature(f.argsz, f.flags, Wire.bytes(p, SIZE, p.byteSize() - SIZE));
    }

    @Override public boolean equals(Object o) { return Records.equal(this, o); }
    @Override public int hashCode() { return Records.hash(this); }
    @Override public String toString() { return Records.text(this); }
}
