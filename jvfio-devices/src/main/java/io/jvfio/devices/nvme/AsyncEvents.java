package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The controller's asynchronous events (§5.2) and the Asynchronous Event Requests that report
 * them: an event that occurs while its type is enabled in Asynchronous Event Configuration (error,
 * I/O command set and vendor events always are) waits in a queue until an outstanding request
 * completes with it (dword 0: type, information, log page). Once an event of a type is reported,
 * further events of that type wait — masked — until the host reads the log page the completion
 * named with RAE clear; an event equal to one reported and not yet acknowledged is merged into it
 * (the log page will show both). At most {@link Identify#AERL} + 1 requests are outstanding
 * (Asynchronous Event Request Limit Exceeded beyond), and a controller enable starts afresh:
 * requests, waiting events and masks from before are gone, as a reset aborts them.
 *
 * <p>The public methods raise events from outside the command sets (fault injection, namespace
 * changes); they may be called from any thread but the vfio-user session's (completing a request
 * writes the admin completion queue through the DMA view, which may wait for the client). Events
 * that Linux acts on: SMART / Health critical warnings (logged) and namespace attribute changes
 * (it reads the Changed Namespace List and rescans).
 */
public final class AsyncEvents {
    /** Events kept while none can be reported; more are dropped (QEMU keeps 64 too). */
    static final int MAX_WAITING = 64;
    /** Requests outstanding at most (AERL is 0-based). */
    static final int REQUEST_LIMIT = Identify.AERL + 1;
    private static final int TYPES = 8, TYPE_MASK = TYPES - 1, NOT_MASKED = -1;
    /** Enabled by no configuration bit the controller keeps (bit 31 is for fabrics' discovery notices). */
    private static final int NEVER = 1 << 31;
    private static final System.Logger LOG = System.getLogger(AsyncEvents.class.getName());

    private final Features features;
    private final LogPages logs;
    // Guarded by this object's monitor; nothing is posted while it is held.
    /** The admin queue the outstanding requests came on, and their command ids, oldest first. */
    private SubmissionQueue requestQueue;
    private final int[] requestCids = new int[REQUEST_LIMIT];
    private int requests;
    /** Events not reported yet, as completion dword 0, oldest first. */
    private final int[] waiting = new int[MAX_WAITING];
    private int waitingCount;
    /** By event type: the event reported and not yet acknowledged (its log page not read), or NOT_MASKED. */
    private final int[] reported = new int[TYPES];

    AsyncEvents(Features features, LogPages logs) {
        this.features = features;
        this.logs = logs;
        reset();
    }

    /** Completion dword 0 of an event. */
    static int event(int type, int info, int logPage) {
        return type | info << AE_INFO_SHIFT | logPage << AE_LOG_PAGE_SHIFT;
    }

    // ------------------------------------------------------------------ raised from outside

    /**
     * Sets SMART critical warning bits (§5.14.1.2: 0 spare, 1 temperature — which the thresholds
     * also set —, 2 reliability, 3 read-only, 4 volatile backup, 5 persistent memory read-only).
     * They stay set — the SMART log reports them until the controller is rebuilt — and each newly
     * set bit enabled in Asynchronous Event Configuration is reported as a SMART / Health event.
     */
    public void criticalWarning(int bits) {
        if ((bits & ~0x3f) != 0 || bits == 0) {
            throw new IllegalArgumentException("SMART critical warning bits are 5:0, not 0x%x".formatted(bits));
        }
        int added = logs.addCriticalWarnings(bits);
        for (int bit = 1; bit <= 0x20; bit <<= 1) {
            if ((added & bit) != 0) {
                int info = bit == SMART_WARNING_SPARE ? AE_SMART_SPARE
                        : bit == SMART_WARNING_TEMPERATURE ? AE_SMART_TEMPERATURE : AE_SMART_RELIABILITY;
                occurred(event(AE_TYPE_SMART, info, LOG_SMART), bit);
            }
        }
    }

    /**
     * The composite temperature becomes {@code kelvin} (SMART reports it): newly at or past a
     * threshold, critical warning bit 1 is set and a SMART temperature event reported if enabled;
     * back within the thresholds, the bit clears.
     */
    public void temperature(int kelvin) {
        if (kelvin <= 0 || kelvin > 0xffff) {
            throw new IllegalArgumentException("temperature %d K".formatted(kelvin));
        }
        boolean warnedBefore = logs.temperatureWarning(features);
        logs.temperature(kelvin);
        if (!warnedBefore && logs.temperatureWarning(features)) {
            occurred(event(AE_TYPE_SMART, AE_SMART_TEMPERATURE, LOG_SMART), SMART_WARNING_TEMPERATURE);
        }
    }

    /**
     * The attributes of namespaces {@code nsids} changed: they join the Changed Namespace List
     * (cleared when the host reads it) and a Namespace Attribute Notice is reported if enabled.
     */
    public void namespacesChanged(int... nsids) {
        for (int nsid : nsids) {
            if (nsid == 0 || nsid == BROADCAST_NSID) {
                throw new IllegalArgumentException("not a namespace id: 0x%x".formatted(nsid));
            }
        }
        logs.namespacesChanged(nsids);
        occurred(event(AE_TYPE_NOTICE, AE_NOTICE_NAMESPACE_ATTRIBUTE, LOG_CHANGED_NAMESPACES), AEC_NAMESPACE_ATTRIBUTE);
    }

    /**
     * Any event: type (2:0), information and log page as the completion reports them. SMART /
     * Health and Notice events are enabled by their configuration bits; the others always are.
     */
    public void post(int type, int info, int logPage) {
        if (type < 0 || type >= TYPES || (info & ~0xff) != 0 || (logPage & ~0xff) != 0) {
            throw new IllegalArgumentException("event type %d, information 0x%x, log page 0x%x".formatted(type, info, logPage));
        }
        occurred(event(type, info, logPage), enabledBy(type, info));
    }

    /** The configuration bits that enable an event; 0 when it is always enabled. */
    private static int enabledBy(int type, int info) {
        return switch (type) {
            case AE_TYPE_SMART -> switch (info) {
                case AE_SMART_SPARE -> SMART_WARNING_SPARE;
                case AE_SMART_TEMPERATURE -> SMART_WARNING_TEMPERATURE;
                default -> SMART_WARNING_RELIABILITY | SMART_WARNING_READ_ONLY | SMART_WARNING_VOLATILE_BACKUP;
            };
            // Notices 00h-06h are enabled by bits 8-14; others have no bit, so never are.
            case AE_TYPE_NOTICE -> info <= 6 ? AEC_NAMESPACE_ATTRIBUTE << info : NEVER;
            default -> 0;
        };
    }

    private void occurred(int event, int enabledBy) {
        if (enabledBy != 0 && (features.asyncEventConfig & enabledBy) == 0) {
            return;   // disabled: not reported, not kept
        }
        synchronized (this) {
            if (reported[event & TYPE_MASK] == event || indexOf(event) >= 0) {
                return;   // merged: the host will read the same log page
            }
            if (waitingCount == MAX_WAITING) {
                LOG.log(System.Logger.Level.DEBUG, "asynchronous event 0x{0} dropped: {1} events wait already",
                        Integer.toHexString(event), MAX_WAITING);
                return;
            }
            waiting[waitingCount++] = event;
        }
        dispatch();
    }

    // ------------------------------------------------------------------ the admin command set

    /**
     * An Asynchronous Event Request: kept outstanding (false) and completed by a later event, or
     * one waiting now; or completed at once (true) with Asynchronous Event Request Limit Exceeded.
     */
    boolean request(SubmissionQueue adminQueue, Command c) {
        synchronized (this) {
            if (requests == requestCids.length) {
                c.fail(SC_AER_LIMIT_EXCEEDED);
                return true;
            }
            requestQueue = adminQueue;
            requestCids[requests++] = c.cid();
        }
        dispatch();
        return false;
    }

    /** The host read log page {@code lid} with RAE clear: events that named it are acknowledged, their types unmasked. */
    void acknowledge(int lid) {
        synchronized (this) {
            for (int type = 0; type < TYPES; type++) {
                if (reported[type] != NOT_MASKED && reported[type] >>> AE_LOG_PAGE_SHIFT == lid) {
                    reported[type] = NOT_MASKED;
                }
            }
        }
        dispatch();
    }

    /** Outstanding requests' command ids, oldest first (what a migration saves). */
    synchronized int[] outstandingRequests() {
        return Arrays.copyOf(requestCids, requests);
    }

    /**
     * A migration's destination: the source's outstanding requests (at most {@link #REQUEST_LIMIT}),
     * held by the restored admin queue; nothing is completed until an event comes.
     */
    synchronized void restore(SubmissionQueue adminQueue, int[] cids) {
        if (cids.length > REQUEST_LIMIT) {
            throw new IllegalArgumentException(cids.length + " event requests, the limit is " + REQUEST_LIMIT);
        }
        System.arraycopy(cids, 0, requestCids, 0, cids.length);
        requests = cids.length;
        requestQueue = cids.length == 0 ? null : adminQueue;
    }

    /** A controller enable: no requests, no waiting events, nothing masked. */
    synchronized void reset() {
        requestQueue = null;
        requests = 0;
        waitingCount = 0;
        Arrays.fill(reported, NOT_MASKED);
    }

    /** Completes outstanding requests with waiting events whose type is not masked, oldest first. */
    private void dispatch() {
        while (true) {
            SubmissionQueue queue;
            int event, cid;
            synchronized (this) {
                int at = firstUnmasked();
                if (requests == 0 || at < 0) {
                    return;
                }
                event = waiting[at];
                System.arraycopy(waiting, at + 1, waiting, at, --waitingCount - at);
                reported[event & TYPE_MASK] = event;
                cid = requestCids[0];
                System.arraycopy(requestCids, 1, requestCids, 0, --requests);
                queue = requestQueue;
            }
            Command completion = new Command();   // events are rare: a command per report, not the queue's own
            completion.entry.set(ValueLayout.JAVA_SHORT_UNALIGNED, SQE_CID, (short) cid);
            completion.begin();
            completion.result = event;
            if (!queue.complete(completion)) {
                // The admin queue went (a reset, which forgets events too) or the client did.
                LOG.log(System.Logger.Level.DEBUG, "asynchronous event 0x{0} not reported: the admin queue is gone",
                        Integer.toHexString(completion.result));
            }
        }
    }

    private int firstUnmasked() {
        for (int i = 0; i < waitingCount; i++) {
            if (reported[waiting[i] & TYPE_MASK] == NOT_MASKED) {
                return i;
            }
        }
        return -1;
    }

    private int indexOf(int event) {
        for (int i = 0; i < waitingCount; i++) {
            if (waiting[i] == event) {
                return i;
            }
        }
        return -1;
    }
}
