package io.jvfio.client;

import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.RegionAccess;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A call waiting for its reply under its message id (see {@link CallChannel}): completed once, by
 * the reply, by a failure, or given up by its caller (then its id stays taken until the late reply
 * comes, so that reply cannot be taken for another call's).
 */
final class PendingCall {
    static final int WAITING = 0, DONE = 1, ABANDONED = 2;

    final AtomicInteger state = new AtomicInteger(WAITING);
    Command command;
    long maxReplyPayload;
    int maxFds;
    volatile VfioUserClient.Reply reply;
    volatile VfioUserException failure;
    /**
     * Set for the fast path's REGION_READ/WRITE: when the caller itself reads its reply, it is
     * checked (and a read's data copied to {@code readDst}) straight from the receive buffer.
     */
    boolean direct;
    MemorySegment readDst;
    long readDstOffset;
    long readCount;
    int directFlags;
    int directError;
    String directProblem;

    PendingCall(Command command, long maxReplyPayload, int maxFds) {
        reset(command, maxReplyPayload, maxFds);
    }

    /** Readies a (reused) call; visible to the reader through the registration's CAS. */
    void reset(Command command, long maxReplyPayload, int maxFds) {
        this.command = command;
        this.maxReplyPayload = maxReplyPayload;
        this.maxFds = maxFds;
        reply = null;
        failure = null;
        direct = false;
        readDst = null;
        directFlags = 0;
        directError = 0;
        directProblem = null;
        state.set(WAITING);
    }

    /** Completes the call with a reply; false if the caller gave up on it already. */
    boolean complete(VfioUserClient.Reply r) {
        if (state.get() != WAITING) {
            return false;
        }
        reply = r;
        if (!state.compareAndSet(WAITING, DONE)) {
            reply = null;
            return false;
        }
        return true;
    }

    boolean fail(VfioUserException e) {
        if (state.get() != WAITING) {
            return false;
        }
        failure = e;
        if (!state.compareAndSet(WAITING, DONE)) {
            failure = null;
            return false;
        }
        return true;
    }

    /** A direct call's own reply, still in the receive buffer: check it and take a read's data. */
    void completeDirect(MemorySegment header, MemorySegment p) {
        directFlags = Header.flags(header);
        directError = Header.error(header);
        if ((directFlags & Header.FLAG_ERROR) == 0) {
            if (p.byteSize() > maxReplyPayload) {
                directProblem = "%s reply of %d bytes is larger than the %d the call can take"
                        .formatted(command, p.byteSize(), maxReplyPayload);
            } else if (readDst != null) {
                directProblem = readReplyProblem(p, readCount);
                if (directProblem == null) {
                    MemorySegment.copy(p, RegionAccess.DATA_OFFSET, readDst, readDstOffset, readCount);
                }
            }
        }
        readDst = null;
        state.set(DONE);
    }

    /** Why a REGION_READ reply does not answer a read of {@code n} bytes; null when it does. */
    static String readReplyProblem(MemorySegment p, long n) {
        if (p.byteSize() == RegionAccess.SIZE + n && RegionAccess.count(p) == n) {
            return null;
        }
        return "REGION_READ reply: %d bytes (count %d) for a read of %d"
                .formatted(p.byteSize(), p.byteSize() >= RegionAccess.SIZE ? RegionAccess.count(p) : -1, n);
    }
}
