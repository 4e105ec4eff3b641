package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.faults.FaultPoint;

/**
 * An NVMe command just fetched from a submission queue, as {@link NvmeCommand} rules see it. Each
 * submission queue keeps one and refills it for every command — only while rules are armed — so
 * asking the faults allocates nothing; the registry keeps {@link #describe()}'s text, not the point.
 */
public final class NvmeCommandPoint implements FaultPoint {
    private static final int IO_COMPARE = 0x05;

    private int queue, cid, opcode, namespace;
    private long firstLba, lastLba;
    private boolean hasLbas;

    NvmeCommandPoint() {}

    /** Takes the fields of {@code command}, fetched from submission queue {@code qid}. */
    void fill(int qid, Command command) {
        queue = qid;
        cid = command.cid();
        opcode = command.opcode();
        namespace = command.nsid();
        hasLbas = qid != 0 && (opcode == IO_READ || opcode == IO_WRITE || opcode == IO_WRITE_ZEROES
                || opcode == IO_COMPARE);
        firstLba = hasLbas ? command.cdw10And11() : 0;
        lastLba = hasLbas ? firstLba + (command.cdw(12) & RW_NLB_MASK) : 0;
        hasLbas &= firstLba >= 0;
    }

    /** The submission queue (0: admin). */
    public int queue() {
        return queue;
    }

    public int cid() {
        return cid;
    }

    public int opcode() {
        return opcode;
    }

    /** The namespace id the command names (0 or broadcast for some). */
    public int namespace() {
        return namespace;
    }

    /** Whether the command has a block range (Read, Write, Write Zeroes, Compare on an I/O queue). */
    public boolean hasLbas() {
        return hasLbas;
    }

    public long firstLba() {
        return firstLba;
    }

    /** The last block (inclusive). */
    public long lastLba() {
        return lastLba;
    }

    @Override
    public String describe() {
        String command = "nvme sq %d cid %d opcode 0x%02x nsid %d".formatted(queue, cid, opcode, namespace);
        return hasLbas ? command + " lba %d-%d".formatted(firstLba, lastLba) : command;
    }
}
