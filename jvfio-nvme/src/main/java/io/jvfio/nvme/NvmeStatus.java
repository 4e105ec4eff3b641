package io.jvfio.nvme;

/**
 * A completion's status as the driver hands it on: the completion queue entry's Status field
 * without the phase tag (bits 7:0 Status Code, 10:8 Status Code Type, 12:11 Command Retry Delay,
 * 13 More, 14 Do Not Retry). 0 is success.
 */
public final class NvmeStatus {
    public static final int SUCCESS = 0;
    /**
     * Command Aborted By Host (SCT 3h, SC 71h): what the driver completes a command with when a
     * controller reset took it away before it completed (as Linux's nvme driver does); it may be
     * issued again.
     */
    public static final int HOST_ABORTED = 0x371;
    /** Command Abort Requested (SCT 0h, SC 07h): the controller aborted the command on the driver's Abort. */
    public static final int ABORT_REQUESTED = 0x007;

    private NvmeStatus() {}

    public static boolean isSuccess(int status) {
        return (status & 0x7ff) == 0;
    }

    public static int code(int status) {
        return status & 0xff;
    }

    public static int type(int status) {
        return status >>> 8 & 0x7;
    }

    public static boolean doNotRetry(int status) {
        return (status & 1 << 14) != 0;
    }
}
