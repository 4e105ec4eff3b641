package io.jvfio.server.internal;

import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.Faults;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * When an injected {@link FaultAction.Stall} ends. One per server, shared by its sessions: the
 * session thread waits it out before it handles each message, so for the stall's duration no
 * command, no DMA reply and no region access is handled — messages queue in the socket. The
 * device's own threads are not stopped (they go on with work they already have; their DMA by
 * message waits for the stalled session). As the server's {@link Faults.Performer} it carries out
 * the stall of a {@link io.jvfio.server.faults.FaultMatch.Now} rule.
 */
public final class StallClock implements Faults.Performer {
    /** The longest single park while stalled, so an {@link #end()} is seen soon. */
    private static final long PARK_NANOS = 10_000_000L;

    private final Object lock = new Object();
    /** System.nanoTime() at which the stall ends; meaningful only while {@code stalled}. */
    private long endsAt;
    private volatile boolean stalled;

    @Override
    public boolean perform(FaultAction action) {
        if (action instanceof FaultAction.Stall stall) {
            stallFor(stall.duration());
            return true;
        }
        return false;
    }

    /** Stalls for {@code duration} from now; a stall already longer is kept. */
    public void stallFor(Duration duration) {
        // TimeUnit saturates a duration too long to count; ends are compared by difference, so wrapping is harmless.
        long until = System.nanoTime() + TimeUnit.NANOSECONDS.convert(duration);
        synchronized (lock) {
            if (!stalled || until - endsAt > 0) {
                endsAt = until;
            }
            stalled = true;
        }
    }

    /** Ends a stall at once (the server closes). */
    public void end() {
        synchronized (lock) {
            stalled = false;
        }
    }

    /** Whether a stall is in progress. */
    public boolean isStalled() {
        if (!stalled) {
            return false;
        }
        synchronized (lock) {
            if (stalled && System.nanoTime() - endsAt >= 0) {
                stalled = false;
            }
            return stalled;
        }
    }

    /** Returns once no stall is in progress: at once, with one volatile read, when there is none. */
    public void awaitEnd() {
        while (isStalled()) {
            long left;
            synchronized (lock) {
                left = endsAt - System.nanoTime();
            }
            LockSupport.parkNanos(Math.min(Math.max(left, 1), PARK_NANOS));
        }
    }
}
