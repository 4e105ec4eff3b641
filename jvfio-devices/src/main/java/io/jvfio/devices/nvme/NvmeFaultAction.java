package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What an NVMe fault does. Command actions apply to {@link NvmeCommand} rules: the submission
 * queue's worker carries them out on the command it fetched ({@link NvmeFaults}). Controller-wide
 * actions apply to {@link FaultMatch.Now} rules: the controller's performer carries them out when
 * the rule is added. {@link ControllerFatal} is both.
 */
public sealed interface NvmeFaultAction extends FaultAction {
    /** The completion fields {@link CorruptCompletion} spoils, each one a host can notice. */
    enum CompletionField {
        /** The command id has bit 15 flipped: a command the host did not issue (Linux: a genctr mismatch). */
        COMMAND_ID,
        /**
         * The entry carries the previous lap's phase tag, so the host takes it for an old one; the
         * next completion reuses the slot. For the host the command never completes: it times out.
         */
        PHASE,
        /** The SQ head pointer is beyond the submission queue's last entry. */
        SQ_HEAD,
        /** The SQ identifier names a queue that did not send the command (0 for an I/O queue's, 1 for the admin queue's). */
        SQ_ID
    }

    private static boolean onCommand(FaultMatch match) {
        return match instanceof NvmeCommand;
    }

    private static boolean now(FaultMatch match) {
        return match instanceof FaultMatch.Now;
    }

    /**
     * The command is not run; it completes with {@code status} ({@code SCT << 8 | SC}: 0x281 Unrecovered
     * Read Error, 0x280 Write Fault, 0x004 Data Transfer Error, …), with Do Not Retry if {@code dnr}.
     */
    record Complete(int status, boolean dnr) implements NvmeFaultAction {
        public Complete {
            if (status <= 0 || (status & ~0x7ff) != 0) {
                throw new IllegalArgumentException("status 0x%x".formatted(status));
            }
        }

        /** The status word as the completion carries it (phase tag aside). */
        int statusWord() {
            return status | (dnr ? STATUS_DNR : 0);
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return onCommand(match);
        }
    }

    /** The command is never completed; an Abort or a reset takes it ({@link CommandDrops}). */
    record NeverComplete() implements NvmeFaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return onCommand(match);
        }
    }

    /** The command runs; its completion is posted {@code delay} later (other commands' pass it). */
    record DelayCompletion(Duration delay) implements NvmeFaultAction {
        public DelayCompletion {
            if (delay.isNegative() || delay.isZero()) {
                throw new IllegalArgumentException("delay " + delay);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return onCommand(match);
        }
    }

    /**
     * CSTS.CFS is set: the host notices at its next timeout and resets the controller. On a command,
     * that command is never completed either.
     */
    record ControllerFatal() implements NvmeFaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return onCommand(match) || now(match);
        }
    }

    /** The command runs, and its completion entry carries a wrong {@code field}. */
    record CorruptCompletion(CompletionField field) implements NvmeFaultAction {
        public CorruptCompletion {
            if (field == null) {
                throw new IllegalArgumentException("no completion field");
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return onCommand(match);
        }
    }

    /**
     * An NVM Subsystem Reset, as if the host had written "NVMe" to NSSR: the controller resets as on
     * CC.EN 1→0 (queues and outstanding commands gone, CC cleared, RDY 0) and CSTS.NSSRO is set.
     */
    record SubsystemReset() implements NvmeFaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return now(match);
        }
    }

    /**
     * A thermal event: {@code overheated}, the composite temperature rises past the over-temperature
     * threshold — SMART shows it and critical warning bit 1, and a SMART temperature event is
     * reported if enabled; not {@code overheated}, it is back to normal and the bit clears.
     */
    record Thermal(boolean overheated) implements NvmeFaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return now(match);
        }
    }

    /**
     * SMART critical warning {@code bits} (5:0: spare, temperature, reliability, read-only, volatile
     * backup, persistent memory) are set and reported as SMART events where enabled.
     */
    record CriticalWarning(int bits) implements NvmeFaultAction {
        public CriticalWarning {
            if (bits == 0 || (bits & ~0x3f) != 0) {
                throw new IllegalArgumentException("SMART critical warning bits are 5:0, not 0x%x".formatted(bits));
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return now(match);
        }
    }

    /**
     * The media goes read-only: Write, Write Zeroes and Dataset Management complete with Attempted
     * Write to Read Only Range (DNR) from then on, and critical warning bit 3 is set ({@link NvmeFaults#readOnly()}).
     */
    record ReadOnly() implements NvmeFaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return now(match);
        }
    }

    /**
     * A namespace appears at run time: the image file {@code image} (created sparse at {@code
     * createBytes} if it does not exist; 0: it must exist) is attached on the lowest free namespace
     * id, and the host is told (Namespace Attribute Changed) — {@link NvmeController#attachNamespace}.
     */
    record AttachNamespace(Path image, long createBytes) implements NvmeFaultAction {
        public AttachNamespace {
            Objects.requireNonNull(image, "image");
            if (createBytes < 0) {
                throw new IllegalArgumentException("negative size " + createBytes);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return now(match);
        }
    }

    /** Namespace {@code nsid} goes away at run time, and the host is told; its store is closed — {@link NvmeController#detachNamespace}. */
    record DetachNamespace(int nsid) implements NvmeFaultAction {
        public DetachNamespace {
            if (nsid < 1) {
                throw new IllegalArgumentException("namespace id " + nsid);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return now(match);
        }
    }
}
