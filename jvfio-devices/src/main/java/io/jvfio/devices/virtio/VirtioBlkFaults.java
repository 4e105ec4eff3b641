package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;

import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultPoint;
import io.jvfio.server.faults.FaultVocabulary;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * virtio-blk's own faults, as objects for a device's {@link io.jvfio.server.faults.Faults} registry
 * ({@code disk.faults().add(FaultRule.on(...))}): a {@link Request} match for block requests as a
 * queue's worker pops them, and what a fired rule does to the request — {@link Complete} it with
 * IOERR or UNSUPP without running it, run it and {@link DelayCompletion delay} its completion, or
 * stop and ask the driver for a reset ({@link NeedsReset}, also as a Now rule). The plan words are
 * {@link VirtioBlkFaultVocabulary}'s.
 */
public final class VirtioBlkFaults {
    private VirtioBlkFaults() {}

    /** The words of virtio-blk fault plans — {@code virtio-blk-request} and its actions — then the core's. */
    public static FaultVocabulary vocabulary() {
        return FaultVocabulary.combine(VirtioBlkFaultVocabulary.INSTANCE, FaultVocabulary.core());
    }

    /** A block request's type (the header's {@code type}); {@link #OTHER} for any the device does not know. */
    public enum RequestType {
        IN(BLK_T_IN), OUT(BLK_T_OUT), FLUSH(BLK_T_FLUSH), GET_ID(BLK_T_GET_ID), DISCARD(BLK_T_DISCARD),
        WRITE_ZEROES(BLK_T_WRITE_ZEROES), OTHER(-1);

        private static final RequestType[] ALL = values();
        private final int code;

        RequestType(int code) {
            this.code = code;
        }

        /** The header's type code ({@code VIRTIO_BLK_T_*}); -1 for {@link #OTHER}. */
        public int code() {
            return code;
        }

        /** The type of header code {@code code}. No allocation: the worker asks per request. */
        public static RequestType of(int code) {
            for (RequestType t : ALL) {
                if (t.code == code) {
                    return t;
                }
            }
            return OTHER;
        }

        /** Whether the header's sector says where the request's data goes (IN and OUT). */
        boolean addressesSectors() {
            return this == IN || this == OUT;
        }
    }

    /**
     * Block requests of one of {@code types}, on queue {@code queue} ({@link #ANY_QUEUE}: any), whose
     * data overlaps sectors {@code [fromSector, toSector)}. A range other than {@link #ALL_SECTORS}
     * matches only reads and writes: flush, get-id, discard and write-zeroes carry no sector in their
     * header (discard's and write-zeroes' ranges are in their data), so they match only a request
     * match over all sectors.
     */
    public record Request(Set<RequestType> types, long fromSector, long toSector, int queue) implements FaultMatch {
        public static final int ANY_QUEUE = -1;
        public static final long ALL_SECTORS = Long.MAX_VALUE;

        public Request {
            if (types.isEmpty() || fromSector < 0 || toSector <= fromSector || queue < ANY_QUEUE) {
                throw new IllegalArgumentException("virtio-blk request match: types %s, sectors [%d, %d), queue %d"
                        .formatted(types, fromSector, toSector, queue));
            }
            types = Collections.unmodifiableSet(EnumSet.copyOf(types)); // contains() allocates nothing
        }

        /** Every request of {@code types} on any queue. */
        public static Request of(RequestType... types) {
            return new Request(Set.of(types), 0, ALL_SECTORS, ANY_QUEUE);
        }

        /** Reads and writes ({@code types}) touching sectors {@code [fromSector, toSector)}, on any queue. */
        public static Request sectors(long fromSector, long toSector, RequestType... types) {
            return new Request(Set.of(types), fromSector, toSector, ANY_QUEUE);
        }

        private boolean wholeDisk() {
            return fromSector == 0 && toSector == ALL_SECTORS;
        }

        @Override
        public boolean matches(FaultPoint point) {
            if (!(point instanceof RequestPoint r) || !types.contains(r.type) || (queue != ANY_QUEUE && queue != r.queue)) {
                return false;
            }
            if (wholeDisk()) {
                return true;
            }
            return r.type.addressesSectors() && r.sector < toSector && r.sector + Math.max(r.sectors, 1) > fromSector;
        }
    }

    /** Whether {@code match} is one of virtio-blk's request matches. */
    private static boolean request(FaultMatch match) {
        return match instanceof Request;
    }

    /**
     * The request is not run: it completes at once with {@code status} — {@link Virtio#BLK_S_IOERR}
     * (Linux: "I/O error, dev vda, sector …", the read or write fails with EIO) or
     * {@link Virtio#BLK_S_UNSUPP} (Linux: EOPNOTSUPP).
     */
    public record Complete(int status) implements FaultAction {
        public Complete {
            if (status != BLK_S_IOERR && status != BLK_S_UNSUPP) {
                throw new IllegalArgumentException("a request completes with IOERR (1) or UNSUPP (2), not " + status);
            }
        }

        public static Complete ioerr() {
            return new Complete(BLK_S_IOERR);
        }

        public static Complete unsupp() {
            return new Complete(BLK_S_UNSUPP);
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return request(match);
        }
    }

    /**
     * The request runs, and its completion is held {@code delay}: the queue's worker waits (the
     * requests behind it on that queue wait too, as behind a slow disk; other queues go on).
     */
    public record DelayCompletion(Duration delay) implements FaultAction {
        public DelayCompletion {
            if (delay.isNegative() || delay.isZero()) {
                throw new IllegalArgumentException("a completion delay must be positive, not " + delay);
            }
        }

        @Override
        public boolean appliesTo(FaultMatch match) {
            return request(match);
        }
    }

    /**
     * The device sets DEVICE_NEEDS_RESET (status bit 0x40) and raises a configuration change
     * interrupt (§2.1.2), and takes no more requests until the driver resets it. At a request the
     * request is never completed; as a Now rule it happens at once (while the driver runs: DRIVER_OK).
     */
    public record NeedsReset() implements FaultAction {
        @Override
        public boolean appliesTo(FaultMatch match) {
            return request(match) || match instanceof FaultMatch.Now;
        }
    }

    /**
     * A queue's request as its worker popped it, refilled for each request (one per queue, so the
     * worker allocates nothing); built only while some rule is armed.
     */
    static final class RequestPoint implements FaultPoint {
        int queue;
        RequestType type;
        long sector;
        /** Data sectors (IN, OUT); 0 for requests that carry none by sector. */
        long sectors;

        RequestPoint fill(int queue, int typeCode, long sector, long dataBytes) {
            this.queue = queue;
            this.type = RequestType.of(typeCode);
            this.sector = sector;
            this.sectors = type.addressesSectors() ? dataBytes >>> SECTOR_SHIFT : 0;
            return this;
        }

        @Override
        public String describe() {
            return type.addressesSectors()
                    ? "virtio-blk queue %d %s sector %d+%d".formatted(queue, type.name().toLowerCase(), sector, sectors)
                    : "virtio-blk queue %d %s".formatted(queue, type.name().toLowerCase().replace('_', '-'));
        }
    }
}
