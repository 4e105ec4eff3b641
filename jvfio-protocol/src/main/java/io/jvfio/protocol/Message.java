package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/**
 * Non-hot-path helpers tying {@link Header} and the typed payloads together: build a whole message, and
 * decode a payload by command. Hot paths use {@link Header} and {@link RegionAccess} directly.
 */
public final class Message {
    private Message() {}

    /** Header + payload in a new heap segment (allocates). */
    public static MemorySegment encode(int msgId, Command command, int flags, int error, Payload payload) {
        long size = Header.SIZE + (payload == null ? 0 : payload.encodedSize());
        Wire.checkU32(size, "message size");
        MemorySegment m = MemorySegment.ofArray(new byte[(int) size]);
        Header.write(m, msgId, command.code(), size, flags, error);
        if (payload != null) {
            payload.encode(m.asSlice(Header.SIZE));
        }
        return m;
    }

    public static MemorySegment command(int msgId, Command command, Payload payload) {
        return encode(msgId, command, Header.TYPE_COMMAND, 0, payload);
    }

    public static MemorySegment reply(int msgId, Command command, Payload payload) {
        return encode(msgId, command, Header.TYPE_REPLY, 0, payload);
    }

    /** The payload view of a whole message whose header passed {@link Header#validate}. */
    public static MemorySegment payload(MemorySegment message) throws ProtocolException {
        long size = Header.messageSize(message);
        if (message.byteSize() < size) {
            throw ProtocolException.invalid("message: " + message.byteSize() + " bytes, msg_size says " + size);
        }
        return message.asSlice(Header.SIZE, size - Header.SIZE);
    }

    /** Decodes a command's payload; {@code maxDataXferSize} bounds REGION/DMA/MIG_DATA counts. */
    public static Payload decodeRequest(Command c, MemorySegment p, long maxDataXferSize) throws ProtocolException {
        return switch (c) {
            case VERSION -> Version.decode(p);
            case DMA_MAP -> DmaMap.decode(p);
            case DMA_UNMAP -> DmaUnmap.decode(p);
            case DEVICE_GET_INFO -> DeviceInfo.decode(p);
            case DEVICE_GET_REGION_INFO -> RegionInfo.decode(p);
            case DEVICE_GET_REGION_IO_FDS -> RegionIoFds.decode(p);
            case DEVICE_GET_IRQ_INFO -> IrqInfo.decode(p);
            case DEVICE_SET_IRQS -> IrqSet.decode(p);
            case REGION_READ -> RegionReadRequest.decode(p, maxDataXferSize);
            case REGION_WRITE -> RegionData.decode(p, maxDataXferSize);
            case DMA_READ -> DmaReadRequest.decode(p, maxDataXferSize);
            case DMA_WRITE -> DmaWriteRequest.decode(p, maxDataXferSize);
            case DEVICE_RESET -> DeviceReset.decode(p);
            case REGION_WRITE_MULTI -> RegionWriteMulti.decode(p);
            case DEVICE_FEATURE -> DeviceFeature.decode(p);
            case MIG_DATA_READ -> MigDataReadRequest.decode(p, maxDataXferSize);
            case MIG_DATA_WRITE -> MigData.decode(p, maxDataXferSize);
            case GET_PRECOPY_INFO -> PrecopyInfo.decode(p);
        };
    }

    /**
     * Decodes a (non-error) reply's payload. Commands whose reply has no payload return {@code null}.
     * DMA_READ/DMA_WRITE replies are decoded strictly here; use the {@code decode(p, address, count)}
     * overloads of {@link DmaReadReply}/{@link DmaWriteReply} to accept QEMU 10.1's layouts.
     */
    public static Payload decodeReply(Command c, MemorySegment p, long maxDataXferSize) throws ProtocolException {
        return switch (c) {
            case VERSION -> Version.decode(p);
            case DMA_MAP, DEVICE_SET_IRQS, DEVICE_RESET -> null;
            case DMA_UNMAP -> DmaUnmap.decode(p);
            case DEVICE_GET_INFO -> DeviceInfo.decode(p);
            case DEVICE_GET_REGION_INFO -> RegionInfo.decode(p);
            case DEVICE_GET_REGION_IO_FDS -> RegionIoFds.decode(p);
            case DEVICE_GET_IRQ_INFO -> IrqInfo.decode(p);
            case REGION_READ -> RegionData.decode(p, maxDataXferSize);
            case REGION_WRITE -> RegionWriteReply.decode(p, maxDataXferSize);
            case DMA_READ -> DmaReadReply.decode(p);
            case DMA_WRITE -> DmaWriteReply.decode(p);
            case REGION_WRITE_MULTI -> RegionWriteMultiReply.decode(p);
            case DEVICE_FEATURE -> DeviceFeature.decode(p);
            case MIG_DATA_READ -> MigData.decode(p, maxDataXferSize);
            case MIG_DATA_WRITE -> MigDataWriteReply.decode(p);
            case GET_PRECOPY_INFO -> PrecopyInfo.decode(p);
        };
    }
}
