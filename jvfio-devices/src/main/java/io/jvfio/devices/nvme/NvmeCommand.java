package io.jvfio.devices.nvme;

import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultPoint;

/**
 * A fault rule's match on NVMe commands as the controller fetches them ({@link NvmeCommandPoint}):
 * by opcode, submission queue, namespace and LBA range, each of which may be "any". An LBA range
 * narrower than the whole only matches Read, Write, Write Zeroes and Compare on I/O queues whose
 * blocks overlap it. Opcodes mean different commands on the admin queue and on I/O queues (0x02 is
 * Get Log Page and Read), so a rule for an I/O opcode names {@link #ANY_IO_QUEUE} or a queue.
 *
 * @param opcode    the command's opcode, or {@link #ANY_OPCODE}
 * @param queue     the submission queue (0: admin), {@link #ANY_QUEUE} or {@link #ANY_IO_QUEUE}
 * @param namespace the namespace id the command names, or {@link #ANY_NAMESPACE}
 * @param firstLba  the first block of the range (inclusive); 0 with {@code lastLba} MAX: any
 * @param lastLba   the last block of the range (inclusive)
 */
public record NvmeCommand(int opcode, int queue, int namespace, long firstLba, long lastLba) implements FaultMatch {
    public static final int ANY_OPCODE = -1;
    /** Any submission queue, the admin queue's included. */
    public static final int ANY_QUEUE = -1;
    /** Any I/O submission queue (not the admin queue). */
    public static final int ANY_IO_QUEUE = -2;
    public static final int ANY_NAMESPACE = 0;

    public NvmeCommand {
        if (opcode < ANY_OPCODE || opcode > 0xff) {
            throw new IllegalArgumentException("opcode 0x%x".formatted(opcode));
        }
        if (queue < ANY_IO_QUEUE || queue > 0xffff) {
            throw new IllegalArgumentException("queue " + queue);
        }
        if (firstLba < 0 || lastLba < firstLba) {
            throw new IllegalArgumentException("LBAs %d..%d".formatted(firstLba, lastLba));
        }
    }

    /** Commands with {@code opcode} on any queue, any namespace, any blocks. */
    public static NvmeCommand of(int opcode) {
        return new NvmeCommand(opcode, ANY_QUEUE, ANY_NAMESPACE, 0, Long.MAX_VALUE);
    }

    /** Whether the match narrows to an LBA range. */
    public boolean hasLbaRange() {
        return firstLba != 0 || lastLba != Long.MAX_VALUE;
    }

    @Override
    public boolean matches(FaultPoint point) {
        if (!(point instanceof NvmeCommandPoint command)) {
            return false;
        }
        int qid = command.queue();
        boolean queueMatches = queue == ANY_IO_QUEUE ? qid != 0 : queue == ANY_QUEUE || qid == queue;
        if (!queueMatches || opcode != ANY_OPCODE && command.opcode() != opcode
                || namespace != ANY_NAMESPACE && command.namespace() != namespace) {
            return false;
        }
        return !hasLbaRange()
                || command.hasLbas() && command.firstLba() <= lastLba && command.lastLba() >= firstLba;
    }
}
