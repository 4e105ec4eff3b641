package io.jvfio.server.internal;

import io.jvfio.protocol.ProtocolException;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultPoint;
import io.jvfio.server.faults.Faults;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The faults of region accesses, carried out on the session thread: each REGION_READ, REGION_WRITE
 * and entry of a REGION_WRITE_MULTI asks the rules first ({@link #inject}).
 */
final class RegionAccessFaults {
    private final Faults faults;
    private final StallClock stall;
    /** Refilled for each access while rules are armed: asking them allocates nothing. */
    private final FaultPoint.RegionAccess point = new FaultPoint.RegionAccess(0, 0, 0, false);

    RegionAccessFaults(Faults faults, StallClock stall) {
        this.faults = faults;
        this.stall = stall;
    }

    /**
     * Applies the fault a rule fires on this access, if any: fails it with an errno, delays it,
     * stalls the session, hangs up, raises an interrupt with it, or (all ones) fills {@code readData}
     * with 0xff / drops the write. Whether the device must be skipped.
     */
    boolean inject(int region, long offset, long count, boolean write, MemorySegment readData)
            throws ProtocolException, IOException {
        FaultAction action = faults.isEmpty() ? null : faults.ask(point.set(region, offset, count, write));
        if (action == null) {
            return false; // the usual case: no rule fired
        }
        switch (action) {
            case FaultAction.FailAccess fail -> throw new ProtocolException(fail.errno(),
                    "injected fault: region %d %s at 0x%x".formatted(region, write ? "write" : "read", offset));
            case FaultAction.AllOnes ignored -> {
                if (readData != null) {
                    readData.fill((byte) 0xff);
                }
                return true;
            }
            case FaultAction.Delay delay -> {
                try {
                    Thread.sleep(delay.delay());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return false;
            }
            case FaultAction.Stall hang -> {
                // The access waits with everything else: the session handles nothing until the stall ends.
                stall.stallFor(hang.duration());
                stall.awaitEnd();
                return false;
            }
            case FaultAction.RaiseInterrupt raise -> {
                faults.perform(raise);
                return false;
            }
            case FaultAction.DropConnection ignored -> throw new IOException(
                    "injected fault: connection dropped at region %d 0x%x".formatted(region, offset));
            default -> throw new IllegalStateException("not a region access action: " + action);
        }
    }
}
