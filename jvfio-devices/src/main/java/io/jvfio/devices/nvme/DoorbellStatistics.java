package io.jvfio.devices.nvme;

import java.util.concurrent.atomic.LongAdder;

/**
 * How the host told the controller about new work, since the controller was built: trapped
 * doorbell writes to I/O queues against the I/O commands taken, and how often the host set up
 * shadow doorbells. With shadow doorbells in use at depth, trapped submission doorbells per command
 * fall well below one. Counts only grow (resets do not clear them): compare two readings.
 */
public final class DoorbellStatistics {
    private final LongAdder submissionDoorbells = new LongAdder(), completionDoorbells = new LongAdder(),
            ioCommands = new LongAdder(), shadowConfigurations = new LongAdder();

    DoorbellStatistics() {}

    /** Trapped tail doorbell writes to I/O submission queues. */
    public long trappedSubmissionDoorbells() {
        return submissionDoorbells.sum();
    }

    /** Trapped head doorbell writes to I/O completion queues. */
    public long trappedCompletionDoorbells() {
        return completionDoorbells.sum();
    }

    /** Commands taken from I/O submission queues. */
    public long ioCommands() {
        return ioCommands.sum();
    }

    /** Successful Doorbell Buffer Config commands. */
    public long shadowConfigurations() {
        return shadowConfigurations.sum();
    }

    void trappedDoorbell(int slot) {
        ((slot & 1) == 0 ? submissionDoorbells : completionDoorbells).increment();
    }

    void ioCommand() {
        ioCommands.increment();
    }

    void shadowConfigured() {
        shadowConfigurations.increment();
    }

    @Override
    public String toString() {
        return "trapped SQ doorbells %d, trapped CQ doorbells %d, I/O commands %d, shadow configurations %d".formatted(
                trappedSubmissionDoorbells(), trappedCompletionDoorbells(), ioCommands(), shadowConfigurations());
    }
}
