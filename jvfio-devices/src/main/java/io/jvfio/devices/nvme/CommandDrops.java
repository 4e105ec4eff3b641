package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The never-completing part of {@link NvmeFaults}, for testing a host's timeout handling: commands
 * a fault fired on (for {@link #drop}, the next few of an opcode on a submission queue) are
 * withheld — never executed, never completed — until an Abort names them (they then complete
 * with Command Abort Requested and the Abort reports them aborted) or a controller reset forgets
 * them. Aborts may also be
 * refused or left unanswered ({@link Aborts}), so that only a reset recovers. Nothing is dropped
 * unless asked.
 */
public final class CommandDrops {
    /** How the controller answers an Abort of a withheld command. */
    public enum Aborts {
        /** The command completes with Command Abort Requested, the Abort reports it aborted (the default). */
        HONOURED,
        /** The Abort completes reporting "not aborted"; the command stays withheld. */
        REFUSED,
        /** Every Abort stays outstanding (until a reset); the command stays withheld. */
        UNANSWERED
    }

    private final NvmeFaults faults;
    private volatile Aborts aborts = Aborts.HONOURED;
    /** The withheld commands as (queue id, command id); guarded by this object's monitor. */
    private final List<int[]> withheld = new ArrayList<>();

    CommandDrops(NvmeFaults faults) {
        this.faults = faults;
    }

    /**
     * Withholds the next {@code count} commands with {@code opcode} fetched from submission queue
     * {@code qid} (0: admin): a {@link NvmeFaults} rule that never completes them.
     */
    public void drop(int qid, int opcode, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("drop %d commands of opcode 0x%x on queue %d".formatted(count, opcode, qid));
        }
        faults.add(NvmeFaults.when(opcode).queue(qid).times(count).neverComplete());
    }

    /**
     * How Aborts are answered from now on: {@link Aborts#HONOURED} and {@link Aborts#REFUSED} concern
     * withheld commands (an Abort of any other reports "not aborted"); {@link Aborts#UNANSWERED}
     * leaves every Abort outstanding.
     */
    public void aborts(Aborts answer) {
        aborts = Objects.requireNonNull(answer);
    }

    /** How many commands are withheld now. */
    public synchronized int withheldCount() {
        return withheld.size();
    }

    /** Keeps {@code command}, just fetched from {@code queue}, uncompleted (a fault fired on it). */
    synchronized void withhold(SubmissionQueue queue, Command command) {
        withheld.add(new int[] {queue.id, command.cid()});
    }

    boolean leavesAbortsUnanswered() {
        return aborts == Aborts.UNANSWERED;
    }

    /**
     * An Abort of command {@code cid} on queue {@code sq}: when it is withheld and Aborts are
     * honoured, it completes now with Command Abort Requested (before the Abort does); true then.
     */
    boolean abort(SubmissionQueue sq, int cid, DmaView dma) {
        synchronized (this) {
            if (aborts != Aborts.HONOURED || !withheld.removeIf(held -> held[0] == sq.id && held[1] == cid)) {
                return false;
            }
        }
        Command aborted = new Command();   // the queue's own Command holds a later entry by now
        aborted.entry.set(ValueLayout.JAVA_SHORT_UNALIGNED, SQE_CID, (short) cid);
        aborted.begin();
        aborted.status = SC_ABORT_REQUESTED;   // no Do Not Retry: the host may issue it again
        return sq.complete(aborted, dma);
    }

    /** A controller reset: the withheld commands are gone with their queues. */
    synchronized void forget() {
        withheld.clear();
    }
}
