package io.jvfio.devices.nvme;

import java.util.Arrays;

/**
 * The Asynchronous Event Requests the admin queue holds (§5.2), by command id, up to the AERL
 * limit Identify advertises. A migration carries them, so the destination can complete them when
 * an event comes; a controller reset drops them with the admin command set that holds this.
 */
final class OutstandingEventRequests {
    /** AERL is 0-based. */
    static final int LIMIT = Identify.AERL + 1;

    private final int[] cids = new int[LIMIT];
    private int count;

    /** Keeps request {@code cid} outstanding; false (and nothing kept) past the limit. */
    synchronized boolean add(int cid) {
        if (count == LIMIT) {
            return false;
        }
        cids[count++] = cid;
        return true;
    }

    /** The command ids outstanding, oldest first. */
    synchronized int[] cids() {
        return Arrays.copyOf(cids, count);
    }

    /** A migration's destination: the source's requests (at most {@link #LIMIT}). */
    synchronized void restore(int[] loaded) {
        if (loaded.length > LIMIT) {
            throw new IllegalArgumentException(loaded.length + " event requests, the limit is " + LIMIT);
        }
        System.arraycopy(loaded, 0, cids, 0, loaded.length);
        count = loaded.length;
    }
}
