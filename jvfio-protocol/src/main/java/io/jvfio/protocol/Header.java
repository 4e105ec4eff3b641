package io.jvfio.protocol;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * Zero-allocation flyweight over the 16-byte message header at offset 0 of a segment (spec §1.2), laid
 * out by {@link #LAYOUT}: {@code msg_id u16, command u16, msg_size u32, flags u32, error u32}.
 *
 * <p>The accessors do not validate; call {@link #validate} once on every received header first.
 */
public final class Header {
    static final StructLayout LAYOUT = Struct.layout(Struct.u16("msg_id"), Struct.u16("command"),
            Struct.u32("msg_size"), Struct.u32("flags"), Struct.u32("error"));

    public static final int SIZE = (int) LAYOUT.byteSize();

    public static final long OFF_MSG_ID = Struct.offset(LAYOUT, "msg_id");
    public static final long OFF_COMMAND = Struct.offset(LAYOUT, "command");
    public static final long OFF_MSG_SIZE = Struct.offset(LAYOUT, "msg_size");
    public static final long OFF_FLAGS = Struct.offset(LAYOUT, "flags");
    public static final long OFF_ERROR = Struct.offset(LAYOUT, "error");

    public static final int FLAG_TYPE_MASK = 0xF;
    public static final int TYPE_COMMAND = 0;
    public static final int TYPE_REPLY = 1;
    public static final int FLAG_NO_REPLY = 0x10;
    public static final int FLAG_ERROR = 0x20;
    /** Every flag bit this protocol version defines. */
    public static final int KNOWN_FLAGS = FLAG_TYPE_MASK | FLAG_NO_REPLY | FLAG_ERROR;

    /** Largest msg_size the u32 field can carry. */
    public static final long MAX_MESSAGE_SIZE = 0xFFFF_FFFFL;

    private Header() {}

    public static int msgId(MemorySegment seg) {
        return Wire.u16(seg, OFF_MSG_ID);
    }

    /** The raw command number; see {@link Command#fromCode}. */
    public static int command(MemorySegment seg) {
        return Wire.u16(seg, OFF_COMMAND);
    }

    /** Whole message size including the header. */
    public static long messageSize(MemorySegment seg) {
        return Wire.u32(seg, OFF_MSG_SIZE);
    }

    /** Payload size: messageSize − 16 (meaningful after {@link #validate}). */
    public static long payloadSize(MemorySegment seg) {
        return messageSize(seg) - SIZE;
    }

    public static int flags(MemorySegment seg) {
        return Wire.i32(seg, OFF_FLAGS);
    }

    public static int error(MemorySegment seg) {
        return Wire.i32(seg, OFF_ERROR);
    }

    public static int type(MemorySegment seg) {
        return flags(seg) & FLAG_TYPE_MASK;
    }

    public static boolean isReply(MemorySegment seg) {
        return type(seg) == TYPE_REPLY;
    }

    public static boolean isCommand(MemorySegment seg) {
        return type(seg) == TYPE_COMMAND;
    }

    public static boolean isNoReply(MemorySegment seg) {
        return (flags(seg) & FLAG_NO_REPLY) != 0;
    }

    public static boolean isError(MemorySegment seg) {
        return (flags(seg) & FLAG_ERROR) != 0;
    }

    public static void write(MemorySegment seg, int msgId, int command, long messageSize, int flags, int error) {
        Wire.put16(seg, OFF_MSG_ID, msgId);
        Wire.put16(seg, OFF_COMMAND, command);
        Wire.put32(seg, OFF_MSG_SIZE, (int) messageSize);
        Wire.put32(seg, OFF_FLAGS, flags);
        Wire.put32(seg, OFF_ERROR, error);
    }

    /** A command header (type 0), optionally with {@link #FLAG_NO_REPLY}. */
    public static void writeCommand(MemorySegment seg, int msgId, int command, long messageSize, boolean noReply) {
        write(seg, msgId, command, messageSize, noReply ? TYPE_COMMAND | FLAG_NO_REPLY : TYPE_COMMAND, 0);
    }

    /** A successful reply header; {@code messageSize} includes the header. */
    public static void writeReply(MemorySegment seg, int msgId, int command, long messageSize) {
        write(seg, msgId, command, messageSize, TYPE_REPLY, 0);
    }

    /** A header-only error reply (msg_size 16, ERROR flag, positive errno). */
    public static void writeErrorReply(MemorySegment seg, int msgId, int command, int errno) {
        write(seg, msgId, command, SIZE, TYPE_REPLY | FLAG_ERROR, errno);
    }

    /**
     * Checks a received header: segment ≥ 16 bytes, 16 ≤ msg_size ≤ {@code maxMessageSize} (E2BIG above),
     * type 0 or 1, no unknown flag bits, and for a command: ERROR clear and error field 0.
     * The command number is not checked here (answer unknown ones with ENOSYS after reading the payload).
     * Allocation-free unless it throws.
     */
    public static void validate(MemorySegment header, long maxMessageSize) throws ProtocolException {
        if (header.byteSize() < SIZE) {
            throw ProtocolException.invalid("header: " + header.byteSize() + " bytes, needs " + SIZE);
        }
        long size = messageSize(header);
        if (size < SIZE) {
            throw ProtocolException.invalid("header: msg_size " + size + " is smaller than the header");
        }
        if (size > maxMessageSize) {
            throw new ProtocolException(Errno.E2BIG, "header: msg_size " + size + " exceeds the limit of "
                    + maxMessageSize);
        }
        int flags = flags(header);
        int type = flags & FLAG_TYPE_MASK;
        if (type != TYPE_COMMAND && type != TYPE_REPLY) {
            throw ProtocolException.invalid("header: message type " + type + " is neither command (0) nor reply (1)");
        }
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw ProtocolException.invalid("header: unknown flags " + Wire.hex(Integer.toUnsignedLong(flags & ~KNOWN_FLAGS)));
        }
        if (type == TYPE_COMMAND) {
            if ((flags & FLAG_ERROR) != 0) {
                throw ProtocolException.invalid("header: ERROR flag set in a command");
            }
            if (error(header) != 0) {
                throw ProtocolException.invalid("header: error field " + Integer.toUnsignedString(error(header))
                        + " in a command (must be 0)");
            }
        }
    }
}
