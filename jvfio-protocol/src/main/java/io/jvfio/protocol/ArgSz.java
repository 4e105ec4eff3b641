package io.jvfio.protocol;

/**
 * The {@code argsz} rules (spec §1.2). In a command argsz is the largest reply payload the sender can take;
 * in a reply it is the size the full answer needs. A reply never exceeds what was offered: when the full
 * answer does not fit, the server sends only the fixed part and sets argsz to the size needed, and the
 * client retries with a bigger argsz.
 */
public final class ArgSz {
    private ArgSz() {}

    /** True when a reply of {@code fullSize} bytes fits the {@code offered} argsz. */
    public static boolean fits(long fullSize, long offered) {
        return fullSize <= offered;
    }

    /**
     * Payload bytes to send: {@code fullSize} if it fits the offer, else {@code fixedSize} (the struct
     * without capabilities / variable data). The reply's argsz is always {@code fullSize}.
     */
    public static long replySize(long fixedSize, long fullSize, long offered) {
        return fits(fullSize, offered) ? fullSize : fixedSize;
    }

    /** Unsigned u32 argsz read from the wire as a long. */
    public static long unsigned(int argsz) {
        return Integer.toUnsignedLong(argsz);
    }

    /** EINVAL unless the offered argsz can hold {@code needed} bytes (for answers that cannot be truncated). */
    public static void require(long offered, long needed, String what) throws ProtocolException {
        if (offered < needed) {
            throw ProtocolException.invalid(what + ": argsz " + offered + " is smaller than the " + needed
                    + " bytes needed");
        }
    }
}
