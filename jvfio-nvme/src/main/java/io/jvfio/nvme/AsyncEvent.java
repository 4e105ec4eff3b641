package io.jvfio.nvme;

import java.util.HexFormat;

/**
 * An asynchronous event the controller reported (§5.2, completion dword 0 of an Asynchronous
 * Event Request), with the log page it named as the driver read it (which acknowledged the event).
 *
 * @param type    the event type: {@link #ERROR}, {@link #SMART_HEALTH}, {@link #NOTICE}, {@link #IO_COMMAND_SET}, {@link #VENDOR}
 * @param info    the event information (e.g. {@link #NAMESPACE_ATTRIBUTE_CHANGED} for a notice)
 * @param logPage the log page identifier the event named
 * @param log     the log page's bytes as read (a copy of the caller's own), empty when it could not be read
 */
public record AsyncEvent(int type, int info, int logPage, byte[] log) {
    public static final int ERROR = 0, SMART_HEALTH = 1, NOTICE = 2, IO_COMMAND_SET = 6, VENDOR = 7;
    /** Notice information: a namespace's attributes changed (the driver has rescanned its namespaces). */
    public static final int NAMESPACE_ATTRIBUTE_CHANGED = 0;

    static AsyncEvent of(int dword0, byte[] log) {
        return new AsyncEvent(dword0 & 7, dword0 >>> 8 & 0xff, dword0 >>> 16 & 0xff, log);
    }

    public boolean isNamespaceChange() {
        return type == NOTICE && info == NAMESPACE_ATTRIBUTE_CHANGED;
    }

    @Override
    public String toString() {
        String name = switch (type) {
            case ERROR -> "error";
            case SMART_HEALTH -> "SMART / Health";
            case NOTICE -> "notice";
            case IO_COMMAND_SET -> "I/O command set";
            case VENDOR -> "vendor";
            default -> "type " + type;
        };
        return "AsyncEvent[%s, info 0x%02x, log page 0x%02x, %d bytes%s]".formatted(name, info, logPage, log.length,
                log.length == 0 ? "" : " " + HexFormat.of().formatHex(log, 0, Math.min(8, log.length)) + "...");
    }
}
