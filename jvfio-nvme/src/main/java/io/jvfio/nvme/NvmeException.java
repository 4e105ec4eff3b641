package io.jvfio.nvme;

import java.io.IOException;

/**
 * A command that completed with an error status (§4.6.1.2): the Status Code Type, the Status Code,
 * and Do Not Retry (the same command will fail again).
 */
public final class NvmeException extends IOException {
    private static final long serialVersionUID = 1;

    public static final int SCT_GENERIC = 0, SCT_COMMAND_SPECIFIC = 1, SCT_MEDIA = 2, SCT_PATH = 3, SCT_VENDOR = 7;

    private final int opcode;
    private final int statusCodeType;
    private final int statusCode;
    private final boolean doNotRetry;

    NvmeException(String command, int opcode, int status) {
        super("%s (opcode 0x%02x) failed: %s".formatted(command, opcode, describe(status)));
        this.opcode = opcode;
        this.statusCodeType = NvmeStatus.type(status);
        this.statusCode = NvmeStatus.code(status);
        this.doNotRetry = NvmeStatus.doNotRetry(status);
    }

    public int opcode() {
        return opcode;
    }

    public int statusCodeType() {
        return statusCodeType;
    }

    public int statusCode() {
        return statusCode;
    }

    public boolean doNotRetry() {
        return doNotRetry;
    }

    /** "Invalid Field in Command (SCT 0h, SC 02h, DNR)" for a status as {@link NvmeStatus} holds it. */
    public static String describe(int status) {
        int sct = NvmeStatus.type(status), sc = NvmeStatus.code(status);
        return "%s (SCT %xh, SC %02xh%s)".formatted(name(sct, sc), sct, sc, NvmeStatus.doNotRetry(status) ? ", DNR" : "");
    }

    private static String name(int sct, int sc) {
        return switch (sct) {
            case SCT_GENERIC -> switch (sc) {
                case 0x00 -> "Successful Completion";
                case 0x01 -> "Invalid Command Opcode";
                case 0x02 -> "Invalid Field in Command";
                case 0x03 -> "Command ID Conflict";
                case 0x04 -> "Data Transfer Error";
                case 0x06 -> "Internal Error";
                case 0x07 -> "Command Abort Requested";
                case 0x08 -> "Command Aborted due to SQ Deletion";
                case 0x0b -> "Invalid Namespace or Format";
                case 0x0d -> "Invalid Use of Controller Memory Buffer";
                case 0x0f -> "Invalid SGL Segment Descriptor";
                case 0x13 -> "Invalid PRP Offset";
                case 0x80 -> "LBA Out of Range";
                case 0x81 -> "Capacity Exceeded";
                case 0x82 -> "Namespace Not Ready";
                default -> "Generic Command Status";
            };
            case SCT_COMMAND_SPECIFIC -> switch (sc) {
                case 0x00 -> "Completion Queue Invalid";
                case 0x01 -> "Invalid Queue Identifier";
                case 0x02 -> "Invalid Queue Size";
                case 0x08 -> "Invalid Interrupt Vector";
                case 0x0c -> "Invalid Queue Deletion";
                case 0x0d -> "Feature Identifier Not Saveable";
                case 0x80 -> "Conflicting Attributes";
                default -> "Command Specific Status";
            };
            case SCT_MEDIA -> switch (sc) {
                case 0x80 -> "Write Fault";
                case 0x81 -> "Unrecovered Read Error";
                case 0x86 -> "Access Denied";
                default -> "Media and Data Integrity Error";
            };
            case SCT_PATH -> sc == 0x71 ? "Command Aborted By Host" : "Path Related Status";
            case SCT_VENDOR -> "Vendor Specific";
            default -> "Reserved Status Code Type";
        };
    }
}
