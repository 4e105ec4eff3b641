package io.jvfio.server.faults;

import java.time.Duration;

/** What a fired rule does. Which actions fit which {@link FaultMatch} is checked by {@link FaultRule}. */
public sealed interface FaultAction {
    /** The region access is answered with {@code errno} and never reaches the device. */
    record FailAccess(int errno) implements FaultAction {
        public FailAccess {
            if (errno <= 0) {
                throw new IllegalArgumentException("errno must be positive, not " + errno);
            }
        }
    }

    /**
     * As after a surprise removal: a read returns all ones, a write is dropped; the device sees neither.
     */
    record AllOnes() implements FaultAction {}

    /** The region access is handled {@code delay} late (the session waits; later messages queue behind it). */
    record Delay(Duration delay) implements FaultAction {
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
    record DropConnection() implements FaultAction {}

    /**
     * The access goes on as usual, and the device raises vector {@code vector} of irq {@code index}
     * with it: the ERR irq (an AER error), the REQ irq (the client is asked to release the device),
     * or a spurious MSI/MSI-X vector. Nothing happens if the device has no such vector.
     */
    record RaiseInterrupt(int index, int vector) implements FaultAction {
        public RaiseInterrupt {
            if (index < 0 || vector < 0) {
                throw new IllegalArgumentException("irq index %d, vector %d".formatted(index, vector));
            }
        }
    }

    /** The interrupt is not delivered (and not left pending). */
    record DropInterrupt() implements FaultAction {}

    /** The interrupt is delivered {@code extra} more times (an eventfd adds them up). */
    record RepeatInterrupt(int extra) implements FaultAction {
        public RepeatInterrupt {
            if (extra < 1) {
                throw new IllegalArgumentException("repeat needs extra >= 1, not " + extra);
            }
        }
    }
}
