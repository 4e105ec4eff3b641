package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One submission queue entry as fetched (a preallocated 64-byte copy per queue, reused for every
 * command) and the result the command completes with. Accessors read the copy; nothing here
 * touches client memory.
 */
final class Command {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    final MemorySegment entry = MemorySegment.ofArray(new long[SQE_SIZE / Long.BYTES]);
    /** Completion dword 0 (command-specific result). */
    int result;
    /** SCT << 8 | SC, plus {@link Nvme#STATUS_DNR}. */
    int status;
    /** How long an injected fault holds the completion back ({@link NvmeFaults}); 0: none. */
    long completionDelayNanos;
    /** The completion field an injected fault spoils ({@link NvmeFaultAction.CorruptCompletion}); null: none. */
    NvmeFaultAction.CompletionField corruptedField;

    /** Clears the result before the command runs. */
    void begin() {
        result = 0;
        status = SC_SUCCESS;
        completionDelayNanos = 0;
        corruptedField = null;
    }

    /** A copy to complete later, when the queue's own command holds later entries. */
    Command copy() {
        Command copy = new Command();
        copy.entry.copyFrom(entry);
        copy.result = result;
        copy.status = status;
        copy.corruptedField = corruptedField;
        return copy;
    }

    /** Fails the command; permanent errors carry Do Not Retry. */
    void fail(int statusCode) {
        status = statusCode | (retryable(statusCode) ? 0 : STATUS_DNR);
    }

    private static boolean retryable(int statusCode) {
        return statusCode == SC_DATA_TRANSFER_ERROR || statusCode == SC_INTERNAL
                || statusCode == SC_ABORTED_SQ_DELETION || statusCode == SC_COMMAND_SEQUENCE_ERROR;
    }

    boolean failed() {
        return status != SC_SUCCESS;
    }

    int opcode() {
        return Byte.toUnsignedInt(entry.get(ValueLayout.JAVA_BYTE, SQE_OPCODE));
    }

    int fuse() {
        return entry.get(ValueLayout.JAVA_BYTE, SQE_FLAGS) & FLAGS_FUSE_MASK;
    }

    int psdt() {
        return Byte.toUnsignedInt(entry.get(ValueLayout.JAVA_BYTE, SQE_FLAGS)) >>> FLAGS_PSDT_SHIFT;
    }

    int cid() {
        return Short.toUnsignedInt(entry.get(ValueLayout.JAVA_SHORT_UNALIGNED, SQE_CID));
    }

    int nsid() {
        return entry.get(U32, SQE_NSID);
    }

    long prp1() {
        return entry.get(U64, SQE_PRP1);
    }

    long prp2() {
        return entry.get(U64, SQE_PRP2);
    }

    /** Command dword {@code n}, 10-15. */
    int cdw(int n) {
        return entry.get(U32, SQE_CDW10 + 4L * (n - 10));
    }

    /** CDW10-11 as one 64-bit value (the starting LBA of Read, Write and Write Zeroes). */
    long cdw10And11() {
        return entry.get(U64, SQE_CDW10);
    }
}
