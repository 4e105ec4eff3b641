package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.Nvme.*;

/**
 * The controller's features (§5.21.1) and Get/Set Features on them. Every value is checked; a
 * controller reset brings back the defaults. Nothing is saveable (ONCS bit 4 is clear), so Set
 * with SV fails with Feature Identifier Not Saveable and Get selects current, default or
 * capabilities. Interrupt coalescing and arbitration are stored, not acted upon: the controller
 * interrupts per batch of completions and serves its queues round robin.
 */
final class Features {
    /** Composite temperature over-threshold default: 70 °C in kelvin, also WCTEMP. */
    static final int DEFAULT_OVER_THRESHOLD = 343;
    /** Error Recovery DULBE (bit 16): not supported (no deallocated blocks). */
    private static final int DULBE = 1 << 16;
    /** Async events the host may enable: SMART critical warnings 7:0 and namespace attribute notices ({@link AsyncEvents}). */
    private static final int ASYNC_EVENTS_SUPPORTED = AEC_SMART_WARNINGS | AEC_NAMESPACE_ATTRIBUTE;
    private static final int INTERRUPT_VECTOR_CD = 1 << 16;

    private final int maxQueuePairs;
    private final int vectors;

    int arbitration, powerState, overThreshold = DEFAULT_OVER_THRESHOLD, underThreshold, errorRecovery;
    volatile boolean writeCacheEnabled = true;
    /** Number of Queues granted (1-based counts of I/O submission and completion queues). */
    int submissionQueues, completionQueues;
    int interruptCoalescing;
    /** Read by whichever thread raises an event. */
    volatile int asyncEventConfig;
    /** Interrupt Vector Configuration: vectors with coalescing disabled (CD). */
    final boolean[] coalescingDisabled;

    Features(int maxQueuePairs, int vectors) {
        this.maxQueuePairs = maxQueuePairs;
        this.vectors = vectors;
        this.coalescingDisabled = new boolean[vectors];
        reset();
    }

    void reset() {
        arbitration = 0;
        powerState = 0;
        overThreshold = DEFAULT_OVER_THRESHOLD;
        underThreshold = 0;
        errorRecovery = 0;
        writeCacheEnabled = true;
        submissionQueues = completionQueues = maxQueuePairs;
        interruptCoalescing = 0;
        asyncEventConfig = 0;
        java.util.Arrays.fill(coalescingDisabled, false);
    }

    /** Set Features; {@code ioQueuesExist} answers whether Number of Queues may still change. */
    void set(Command c, boolean ioQueuesExist) {
        int cdw10 = c.cdw(10), value = c.cdw(11);
        int fid = cdw10 & 0xff;
        if ((cdw10 & FEATURE_SAVE) != 0) {
            c.fail(SC_FEATURE_NOT_SAVEABLE);
            return;
        }
        switch (fid) {
            case FEATURE_ARBITRATION -> arbitration = value;
            case FEATURE_POWER_MANAGEMENT -> {
                int ps = value & 0x1f, workloadHint = value >>> 5 & 0x7;
                if (ps != 0 || workloadHint != 0) {   // one power state (NPSS 0), no workload hints
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                powerState = ps;
            }
            case FEATURE_TEMPERATURE_THRESHOLD -> {
                int threshold = value & 0xffff, sensor = value >>> 16 & 0xf, type = value >>> 20 & 0x3;
                if (sensor != 0 || type > 1) {        // the composite temperature only; over (0) or under (1)
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                if (type == 0) {
                    overThreshold = threshold;
                } else {
                    underThreshold = threshold;
                }
            }
            case FEATURE_ERROR_RECOVERY -> {
                if ((value & DULBE) != 0) {
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                errorRecovery = value & 0xffff;
            }
            case FEATURE_VOLATILE_WRITE_CACHE -> writeCacheEnabled = (value & 1) != 0;
            case FEATURE_NUMBER_OF_QUEUES -> {
                int nsqr = value & 0xffff, ncqr = value >>> 16;
                if (nsqr == 0xffff || ncqr == 0xffff) {
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                if (ioQueuesExist) {
                    c.fail(SC_COMMAND_SEQUENCE_ERROR);
                    return;
                }
                submissionQueues = Math.min(nsqr + 1, maxQueuePairs);
                completionQueues = Math.min(ncqr + 1, maxQueuePairs);
                c.result = numberOfQueues();
            }
            case FEATURE_INTERRUPT_COALESCING -> interruptCoalescing = value & 0xffff;
            case FEATURE_INTERRUPT_VECTOR_CONFIG -> {
                int vector = value & 0xffff;
                if (vector >= vectors || vector == 0) {  // coalescing never applies to the admin vector
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                coalescingDisabled[vector] = (value & INTERRUPT_VECTOR_CD) != 0;
            }
            case FEATURE_ASYNC_EVENT_CONFIG -> asyncEventConfig = value & ASYNC_EVENTS_SUPPORTED;
            default -> c.fail(SC_INVALID_FIELD);
        }
    }

    void get(Command c) {
        int cdw10 = c.cdw(10);
        int fid = cdw10 & 0xff, select = cdw10 >>> FEATURE_SELECT_SHIFT & FEATURE_SELECT_MASK;
        if (!known(fid)) {
            c.fail(SC_INVALID_FIELD);
            return;
        }
        switch (select) {
            case SELECT_CURRENT -> current(c, fid);
            case SELECT_DEFAULT -> {
                Features defaults = new Features(maxQueuePairs, vectors);
                defaults.current(c, fid);
            }
            case SELECT_CAPABILITIES -> c.result = FEATURE_CAPABILITY_CHANGEABLE;
            default -> c.fail(SC_INVALID_FIELD);   // SELECT_SAVED: nothing is saveable
        }
    }

    private void current(Command c, int fid) {
        switch (fid) {
            case FEATURE_ARBITRATION -> c.result = arbitration;
            case FEATURE_POWER_MANAGEMENT -> c.result = powerState;
            case FEATURE_TEMPERATURE_THRESHOLD -> {
                int value = c.cdw(11), sensor = value >>> 16 & 0xf, type = value >>> 20 & 0x3;
                if (sensor != 0 || type > 1) {
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                c.result = type == 0 ? overThreshold : underThreshold;
            }
            case FEATURE_ERROR_RECOVERY -> c.result = errorRecovery;
            case FEATURE_VOLATILE_WRITE_CACHE -> c.result = writeCacheEnabled ? 1 : 0;
            case FEATURE_NUMBER_OF_QUEUES -> c.result = numberOfQueues();
            case FEATURE_INTERRUPT_COALESCING -> c.result = interruptCoalescing;
            case FEATURE_INTERRUPT_VECTOR_CONFIG -> {
                int vector = c.cdw(11) & 0xffff;
                if (vector >= vectors) {
                    c.fail(SC_INVALID_FIELD);
                    return;
                }
                c.result = vector | (coalescingDisabled[vector] ? INTERRUPT_VECTOR_CD : 0);
            }
            case FEATURE_ASYNC_EVENT_CONFIG -> c.result = asyncEventConfig;
            default -> c.fail(SC_INVALID_FIELD);
        }
    }

    private static boolean known(int fid) {
        return switch (fid) {
            case FEATURE_ARBITRATION, FEATURE_POWER_MANAGEMENT, FEATURE_TEMPERATURE_THRESHOLD, FEATURE_ERROR_RECOVERY,
                 FEATURE_VOLATILE_WRITE_CACHE, FEATURE_NUMBER_OF_QUEUES, FEATURE_INTERRUPT_COALESCING,
                 FEATURE_INTERRUPT_VECTOR_CONFIG, FEATURE_ASYNC_EVENT_CONFIG -> true;
            default -> false;
        };
    }

    /** NCQA 31:16, NSQA 15:0, both 0-based. */
    private int numberOfQueues() {
        return (completionQueues - 1) << 16 | (submissionQueues - 1);
    }
}
