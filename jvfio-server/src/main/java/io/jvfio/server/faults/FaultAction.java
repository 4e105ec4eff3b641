package io.jvfio.server.faults;

import java.time.Duration;

/**
 * What a fired rule does. The core's actions are here; a device adds its own (complete an NVMe
 * command with a status, glitch a GPIO line) by implementing this interface. Where a rule fires,
 * the code that asked {@link Faults#ask} carries the action out; an action of a {@link FaultMatch.Now}
 * rule is carried out by whichever {@link Faults.Performer} the device registered takes it.
 */
public interface FaultAction {
    /** Whether this action makes sense where {@code match} fires; {@link FaultRule} refuses other pairs. */
    boolean appliesTo(FaultMatch match);

    /** Whether {@code match} is a region access (for actions on accesses). */
    private static boolean access(FaultMatch match) {
        return match instanceof FaultMatch.RegionAccess;
    }

    /** The region access is answered with {@code errno} and never reaches the device. */
    record FailAccess(int errno) implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return access(match);
        }

        public FailAccess {
            if (errno <= 0) {
                throw new IllegalArgumentException("errno must be positive, not " + errno);
            }
        }
    }

    /**
     * As after a surprise removal: a read returns all ones, a write is dropped; the device sees neither.
     */
    record AllOnes() implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return access(match);
        }
    }

    /** The region access is handled {@code delay} late (the session waits; later messages queue behind it). */
    record Delay(Duration delay) implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return access(match);
        }

        public Delay {
            if (delay.isNegative()) {
                throw new IllegalArgumentException("negative delay " + delay);
            }
        }
    }

    /**
     * The server hangs up on the client instead of answering the access (the device stays; the next
     * client is served).
     */
    record DropConnection() implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return access(match);
        }
    }

    /**
     * The access goes on as usual, and the device raises vector {@code vector} of irq {@code index}
     * with it: the ERR irq (an AER error), the REQ irq (the client is asked to release the device),
     * or a spurious MSI/MSI-X vector. Nothing happens if the device has no such vector.
     */
    record RaiseInterrupt(int index, int vector) implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return access(match) || match instanceof FaultMatch.Now;
        }

        public RaiseInterrupt {
            if (index < 0 || vector < 0) {
                throw new IllegalArgumentException("irq index %d, vector %d".formatted(index, vector));
            }
        }
    }

    /** The interrupt is not delivered (and not left pending). */
    record DropInterrupt() implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.Interrupt;
        }
    }

    /** The interrupt is delivered {@code extra} more times (an eventfd adds them up). */
    record RepeatInterrupt(int extra) implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.Interrupt;
        }

        public RepeatInterrupt {
            if (extra < 1) {
                throw new IllegalArgumentException("repeat needs extra >= 1, not " + extra);
            }
        }
    }

    /** The interrupt is delivered {@code delay} late (other interrupts are not held up). */
    record DelayInterrupt(Duration delay) implements FaultAction {
        public DelayInterrupt {
            if (delay.isNegative() || delay.isZero()) {
                throw new IllegalArgumentException("an interrupt delay must be positive, not " + delay);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.Interrupt;
        }
    }

    /** The DMA transfer fails with {@code errno} (EFAULT: as if the window were not there); the device sees the error. */
    record FailDma(int errno) implements FaultAction {
        public FailDma {
            if (errno <= 0) {
                throw new IllegalArgumentException("errno must be positive, not " + errno);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.Dma;
        }
    }

    /**
     * The DMA window the transfer falls in is gone, as if the client had unmapped it mid-transfer:
     * this transfer and every later one into it fail with EFAULT until the client maps it again.
     */
    record RemoveDmaWindow() implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.Dma;
        }
    }

    /**
     * The device stalls for {@code duration}: the session handles no message (no command, no
     * reply to the device's DMA requests) until it has passed — a device that hangs for a while.
     * At a region access, that access waits with the rest and then goes on; with a {@link FaultMatch.Now}
     * rule the server's sessions stall at once. The device's own threads are not stopped: they go
     * on with the work they have, and their DMA by message waits for the session.
     */
    record Stall(Duration duration) implements FaultAction {
        public Stall {
            if (duration.isNegative() || duration.isZero()) {
                throw new IllegalArgumentException("a stall must be positive, not " + duration);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return match instanceof FaultMatch.RegionAccess || match instanceof FaultMatch.Now;
        }
    }
}
