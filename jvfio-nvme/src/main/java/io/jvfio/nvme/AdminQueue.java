package io.jvfio.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeoutException;

/**
 * The admin queue pair as the driver uses it: one command at a time run to its completion, and
 * beside it the Asynchronous Event Requests kept outstanding, whose completions arrive whenever
 * the admin completion queue is serviced (by a command's wait or {@link #service}) and wait here
 * until {@link #takeEvent}. The caller holds the driver's admin lock for every call.
 */
final class AdminQueue {
    private static final long COMMAND_TAG = 0, EVENT_REQUEST_TAG = 1;
    private static final System.Logger LOG = System.getLogger(AdminQueue.class.getName());

    /** An admin command without a completion within the admin timeout. */
    static final class CommandTimeout extends IOException {
        private static final long serialVersionUID = 1;

        CommandTimeout(String command, long timeoutNanos) {
            super(new TimeoutException("%s: no completion within %d ms".formatted(command, timeoutNanos / 1_000_000)));
        }
    }

    private final QueuePair queue;
    private final long timeoutNanos;
    private int status, result;
    private boolean completed;
    private int eventRequests;
    /** Completion dword 0 of event requests completed and not taken yet. Events are rare: boxed. */
    private final ArrayDeque<Integer> events = new ArrayDeque<>();
    private final CompletionListener router = (tag, status, result) -> {
        if (tag == EVENT_REQUEST_TAG) {
            eventRequests--;
            if (NvmeStatus.isSuccess(status)) {
                events.add(result);
            } else {   // e.g. aborted at a queue deletion, or over the limit: not asked again
                LOG.log(System.Logger.Level.DEBUG, "an Asynchronous Event Request completed with {0}", NvmeException.describe(status));
            }
        } else {
            this.status = status;
            this.result = result;
            completed = true;
        }
    };

    AdminQueue(QueuePair queue, long timeoutNanos) {
        this.queue = queue;
        this.timeoutNanos = timeoutNanos;
    }

    QueuePair pair() {
        return queue;
    }

    /**
     * Runs one command to its completion; returns its dword 0. Throws {@link NvmeException} on an
     * error status and {@link CommandTimeout} without a completion in time (its slot stays taken
     * until {@link #restart}).
     */
    int run(String name, int opcode, int nsid, long prp1, long prp2, int cdw10, int cdw11) throws IOException {
        int slot = queue.acquireSlot(COMMAND_TAG);
        if (slot < 0) {
            throw new IllegalStateException("the admin queue is full");
        }
        completed = false;
        queue.submit(slot, opcode, nsid, prp1, prp2, cdw10, cdw11, 0, 0);
        long deadline = System.nanoTime() + timeoutNanos;
        while (!completed) {
            if (!queue.awaitCompletion(deadline)) {
                throw new CommandTimeout(name, timeoutNanos);
            }
            queue.reap(router);
        }
        if (!NvmeStatus.isSuccess(status)) {
            throw new NvmeException(name, opcode, status);
        }
        return result;
    }

    /**
     * Puts Asynchronous Event Requests in the queue (no wait) until {@code limit} are outstanding,
     * leaving a slot for commands.
     */
    void requestEvents(int limit) throws IOException {
        while (eventRequests < limit && queue.outstanding() < queue.slots() - 1) {
            int slot = queue.acquireSlot(EVENT_REQUEST_TAG);
            if (slot < 0) {
                return;
            }
            queue.submit(slot, ADMIN_ASYNC_EVENT_REQUEST, 0, 0, 0, 0, 0, 0, 0);
            eventRequests++;
        }
    }

    /** Takes the completions there are now (event requests among them); never waits. */
    void service() throws IOException {
        queue.reap(router);
    }

    boolean hasEvent() {
        return !events.isEmpty();
    }

    /** Completion dword 0 of the oldest event not taken yet; only after {@link #hasEvent}. */
    int takeEvent() {
        return events.remove();
    }

    /**
     * After the controller was disabled: the queue as new, every slot free (the controller forgot
     * the commands, event requests included). Events already received stay to be taken.
     */
    void restart() {
        for (int slot = 0; slot < queue.slots(); slot++) {
            if (queue.isOutstanding(slot)) {
                queue.release(slot);
            }
        }
        queue.restart();
        eventRequests = 0;
        completed = false;
    }
}
