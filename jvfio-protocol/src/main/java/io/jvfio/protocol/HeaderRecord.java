package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;

/** A decoded header, for paths where an allocation does not matter (clients, tracing, tests). */
public record HeaderRecord(int msgId, Command command, long messageSize, int flags, int error) {

    public HeaderRecord {
        Wire.checkU16(msgId, "msgId");
        Wire.checkU32(messageSize, "messageSize");
    }

    /** Validates (see {@link Header#validate}) and decodes; ENOSYS for an unknown command number. */
    public static HeaderRecord decode(MemorySegment header, long maxMessageSize) throws ProtocolException {
        Header.validate(header, maxMessageSize);
        return new HeaderRecord(Header.msgId(header), Command.fromCode(Header.command(header)),
                Header.messageSize(header), Header.flags(header), Header.error(header));
    }

    public static HeaderRecord decode(MemorySegment header) throws ProtocolException {
        return decode(header, Header.MAX_MESSAGE_SIZE);
    }

    public static HeaderRecord command(int msgId, Command command, long payloadSize, boolean noReply) {
        return new HeaderRecord(msgId, command, Header.SIZE + payloadSize,
                noReply ? Header.TYPE_COMMAND | Header.FLAG_NO_REPLY : Header.TYPE_COMMAND, 0);
    }

    public static HeaderRecord reply(int msgId, Command command, long payloadSize) {
        return new HeaderRecord(msgId, command, Header.SIZE + payloadSize, Header.TYPE_REPLY, 0);
    }

    public static HeaderRecord errorReply(int msgId, Command command, int errno) {
        return new HeaderRecord(msgId, command, Header.SIZE, Header.TYPE_REPLY | Header.FLAG_ERROR, errno);
    }

    public long payloadSize() {
        return messageSize - Header.SIZE;
    }

    public boolean isReply() {
        return (flags & Header.FLAG_TYPE_MASK) == Header.TYPE_REPLY;
    }

    public boolean isNoReply() {
        return (flags & Header.FLAG_NO_REPLY) != 0;
    }

    public boolean isError() {
        return (flags & Header.FLAG_ERROR) != 0;
    }

    public void encode(MemorySegment dst) {
        Wire.checkDst(dst, Header.SIZE, this);
        Header.write(dst, msgId, command.code(), messageSize, flags, error);
    }
}
