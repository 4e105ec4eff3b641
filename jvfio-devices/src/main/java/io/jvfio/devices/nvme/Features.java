package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import java.util.Arrays;

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
    private final boolean[] coalescingDisabled;

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
        Arrays.fill(coalescingDisabled, false);
    }

    // ------------------------------------------------------------------ migration

    /** The current values, for a migration's state (the layout {@link #load} reads). */
    void save(StateWriter.Section s) {
        s.u32(arbitration).u32(powerState).u32(overThreshold).u32(underThreshold).u32(errorRecovery)
                .bool(writeCacheEnabled).u16(submissionQueues).u16(completionQueues)
                .u32(interruptCoalescing).u32(asyncEventConfig);
        byte[] disabled = new byte[coalescingDisabled.length];
        for (int i = 0; i < disabled.length; i++) {
            disabled[i] = (byte) (coalescingDisabled[i] ? 1 : 0);
        }
        s.bytes(disabled);
    }

    /** Features as {@link #save} wrote them, checked (EINVAL for values no Set Features could have made). */
    static Features load(StateReader.Section s, int maxQueuePairs, int vectors) throws VfioException {
        Features f = new Features(maxQueuePairs, vectors);
        f.arbitration = s.u32();
        f.powerState = s.u32();
        f.overThreshold = s.u32();
        f.underThreshold = s.u32();
        f.errorRecovery = s.u32();
        f.writeCacheEnabled = s.bool();
        f.submissionQueues = s.u16();
        f.completionQueues = s.u16();
        f.interruptCoalescing = s.u32();
        f.asyncEventConfig = s.u32();
        byte[] disabled = s.bytes(vectors);
        for (int i = 0; i < disabled.length; i++) {
            if (disabled[i] > 1 || disabled[i] < 0) {
                throw VfioException.invalid("NVMe migration state: interrupt vector %d's coalescing flag is %d"
                        .formatted(i, disabled[i]));
            }
            f.coalescingDisabled[i] = disabled[i] == 1;
        }
        if (f.submissionQueues < 1 || f.submissionQueues > maxQueuePairs || f.completionQueues < 1
                || f.completionQueues > maxQueuePairs || f.powerState != 0) {
            throw VfioException.invalid("NVMe migration state: features: %d submission and %d completion queues, power state %d"
                    .formatted(f.submissionQueues, f.completionQueues, f.powerState));
        }
        return f;
    }

    /** A migration's destination takes the loaded features. */
    void copyFrom(Features from) {
        arbitration = from.arbitration;
        powerState = from.powerState;
        overThreshold = from.overThreshold;
        underThreshold = from.underThreshold;
        errorRecovery = from.errorRecovery;
        writeCacheEnabled = from.writeCacheEnabled;
        submissionQueues = from.submissionQueues;
        completionQueues = from.completionQueues;
        interruptCoalescing = from.interruptCoalescing;
        asyncEventConfig = from.asyncEventConfig;
        System.arraycopy(from.coalescingDisabled, 0, coalescingDisabled, 0, coalescingDisabled.length);
    }

    // ------------------------------------------------------------------ the admin commands

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
