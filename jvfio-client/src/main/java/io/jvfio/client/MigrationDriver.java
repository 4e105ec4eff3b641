package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.PrecopyInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Moves a running device from one {@link DeviceHandle} (the source) to another (the destination,
 * whose device is freshly created: RESUMING overwrites its state), as a VMM does with VFIO
 * migration v2:
 * <ol>
 * <li>destination → RESUMING; dirty logging on the source for the DMA memory the driver carries,
 * and a first full copy of that memory;</li>
 * <li>while the device runs: PRE_COPY rounds (if the source offers PRE_COPY), each streaming the
 * device data ready so far and copying the pages the device dirtied, until what is left is at
 * most {@link Options#convergedBytes} or {@link Options#maxPreCopyRounds} rounds are done;</li>
 * <li>downtime starts: source → STOP_COPY, the rest of the data and the last dirty pages;</li>
 * <li>destination → RUNNING (it loads the state; if it refuses, the source runs again and the
 * migration fails); downtime ends; source → STOP.</li>
 * </ol>
 * Progress is reported after every round and phase. Only the two handles' interface calls are used.
 */
public final class MigrationDriver {
    /** The driver's own tuning. */
    public record Options(int maxPreCopyRounds, long convergedBytes, long dirtyPageSize) {
        public Options {
            if (maxPreCopyRounds < 0 || convergedBytes < 0 || dirtyPageSize <= 0 || Long.bitCount(dirtyPageSize) != 1) {
                throw new IllegalArgumentException("bad migration options: " + maxPreCopyRounds + ", " + convergedBytes + ", " + dirtyPageSize);
            }
        }

        /** Up to 8 pre-copy rounds, converged at 4 KiB left, dirty pages logged at 4 KiB. */
        public static Options defaults() {
            return new Options(8, 4096, 4096);
        }

        public Options withMaxPreCopyRounds(int rounds) {
            return new Options(rounds, convergedBytes, dirtyPageSize);
        }

        public Options withConvergedBytes(long bytes) {
            return new Options(maxPreCopyRounds, bytes, dirtyPageSize);
        }
    }

    /**
     * DMA memory the driver owns on both sides at the same IOVA (e.g. two {@link DmaBuffer}s): the
     * device writes {@code source}; the driver carries what it dirtied to {@code destination}.
     */
    public record DmaRegion(long iova, MemorySegment source, MemorySegment destination) {
        public DmaRegion {
            if (source.byteSize() != destination.byteSize() || source.byteSize() == 0) {
                throw new IllegalArgumentException("source and destination memory must be the same, non-zero size");
            }
        }

        public long size() {
            return source.byteSize();
        }
    }

    public enum Phase {
        /** A pre-copy round finished (the device runs on the source). */
        PRE_COPY,
        /** The source stopped and its remaining state was sent. */
        STOP_COPY,
        /** The destination loaded the state and runs; the source is stopped. */
        DONE
    }

    /**
     * Where a migration stands: cumulative device-data and DMA bytes, the pre-copy round, the
     * bytes still to send as the source estimates them (-1 when it cannot tell), and the downtime
     * (zero until it is over).
     */
    public record Progress(Phase phase, int round, long deviceBytes, long dmaBytes, long remainingBytes, Duration downtime) {}

    @FunctionalInterface
    public interface Listener {
        void progress(Progress progress);
    }

    /** What a finished migration took. */
    public record Result(int preCopyRounds, long deviceBytes, long dmaBytes, Duration downtime) {}

    /** Largest dirty bitmap asked for in one report (the rest of a region goes in further reports). */
    static final long MAX_REPORT_BITMAP_BYTES = 32 << 10;
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DeviceHandle source;
    private final DeviceHandle destination;
    private final List<DmaRegion> dma;
    private final Options options;
    private final Listener listener;
    private long deviceBytes, dmaBytes;
    private long pageSize;

    public MigrationDriver(DeviceHandle source, DeviceHandle destination, List<DmaRegion> dma, Options options, Listener listener) {
        this.source = Objects.requireNonNull(source);
        this.destination = Objects.requireNonNull(destination);
        this.dma = List.copyOf(dma);
        this.options = Objects.requireNonNull(options);
        this.listener = Objects.requireNonNull(listener);
    }

    /** Runs the whole migration; on failure the device keeps (or resumes) running on the source where it can. */
    public Result migrate() throws IOException {
        FeatureMigration offered = source.migrationFeature();
        MigrationState here = source.migrationState();
        if (here != MigrationState.RUNNING) {
            // A stopped source has handed its device on already (or never ran): its state is stale.
            throw new DeviceException(Errno.EBUSY, "the source device is in " + here + "; it must be running");
        }
        destination.migrationFeature(); // the destination must be migratable too (EINVAL otherwise)
        MigrationState there = destination.migrationState();
        if (there != MigrationState.RUNNING && there != MigrationState.STOP) {
            throw new DeviceException(Errno.EBUSY, "the destination device is in " + there + "; it must be a fresh, running device");
        }
        destination.setMigrationState(MigrationState.RESUMING);
        boolean logging = false;
        int rounds = 0;
        try {
            if (!dma.isEmpty()) {
                List<FeatureDmaLoggingControl.Range> ranges = new ArrayList<>();
                for (DmaRegion r : dma) {
                    ranges.add(new FeatureDmaLoggingControl.Range(r.iova(), r.size()));
                }
                pageSize = source.startDmaLogging(options.dirtyPageSize(), ranges);
                logging = true;
                for (DmaRegion r : dma) { // everything once; from now on only what the device dirties
                    r.destination().copyFrom(r.source());
                    dmaBytes += r.size();
                }
            }
            if (offered.preCopy() && options.maxPreCopyRounds() > 0) {
                source.setMigrationState(MigrationState.PRE_COPY);
                while (true) {
                    rounds++;
                    long deviceSent = pumpDeviceData();
                    long pagesSent = copyDirtyPages();
                    long remaining = remainingPreCopyBytes();
                    listener.progress(new Progress(Phase.PRE_COPY, rounds, deviceBytes, dmaBytes, remaining, Duration.ZERO));
                    // What the next round would move: the source's estimate (else this round's data), plus DMA pages.
                    long left = (remaining >= 0 ? remaining : deviceSent) + pagesSent;
                    if (left <= options.convergedBytes() || rounds >= options.maxPreCopyRounds()) {
                        break;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            abandon(logging, e);
            throw e;
        }

        long stopped = System.nanoTime();
        try {
            source.setMigrationState(MigrationState.STOP_COPY);
            pumpDeviceData();
            copyDirtyPages();
            listener.progress(new Progress(Phase.STOP_COPY, rounds, deviceBytes, dmaBytes, 0,
                    Duration.ofNanos(System.nanoTime() - stopped)));
            destination.setMigrationState(MigrationState.RUNNING);
        } catch (IOException | RuntimeException e) {
            abandon(logging, e);
            throw e;
        }
        Duration downtime = Duration.ofNanos(System.nanoTime() - stopped);
        source.setMigrationState(MigrationState.STOP);
        if (logging) {
            source.stopDmaLogging();
        }
        listener.progress(new Progress(Phase.DONE, rounds, deviceBytes, dmaBytes, 0, downtime));
        return new Result(rounds, deviceBytes, dmaBytes, downtime);
    }

    /** After a failure: the device runs on the source again, logging ends; later failures are attached, not thrown. */
    private void abandon(boolean logging, Exception cause) {
        try {
            if (source.isConnected()) {
                source.setMigrationState(MigrationState.RUNNING);
                if (logging) {
                    source.stopDmaLogging();
                }
            }
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    /** Source → destination until a short read (no more for now; in STOP_COPY the end). Returns the bytes moved. */
    private long pumpDeviceData() throws IOException {
        int chunk = (int) Math.min(source.transferChunk(), Integer.MAX_VALUE);
        long moved = 0;
        while (true) {
            byte[] data = source.migDataRead(chunk);
            if (data.length > 0) {
                destination.migDataWrite(data);
                moved += data.length;
            }
            if (data.length < chunk) {
                deviceBytes += moved;
                return moved;
            }
        }
    }

    /** Copies the pages the source reports dirty from the source's memory to the destination's. */
    private long copyDirtyPages() throws IOException {
        long copied = 0;
        long pagesPerReport = MAX_REPORT_BITMAP_BYTES * 8;
        for (DmaRegion r : dma) {
            for (long offset = 0; offset < r.size(); ) {
                long length = Math.min(r.size() - offset, pagesPerReport * pageSize);
                FeatureDmaLoggingReport report = source.dmaLoggingReport(r.iova() + offset, length, pageSize);
                MemorySegment bitmap = MemorySegment.ofArray(report.bitmap());
                for (long word = 0; word < bitmap.byteSize() / 8; word++) {
                    for (long bits = bitmap.get(LE_LONG, word * 8); bits != 0; bits &= bits - 1) {
                        long page = word * 64 + Long.numberOfTrailingZeros(bits);
                        long at = offset + page * pageSize;
                        long n = Math.min(pageSize, r.size() - at);
                        r.destination().asSlice(at, n).copyFrom(r.source().asSlice(at, n));
                        copied += n;
                    }
                }
                offset += length;
            }
        }
        dmaBytes += copied;
        return copied;
    }

    /** initial + dirty bytes the source says are left, or -1 if it does not answer GET_PRECOPY_INFO. */
    private long remainingPreCopyBytes() throws IOException {
        try {
            PrecopyInfo info = source.precopyInfo();
            return info.initialBytes() + info.dirtyBytes();
        } catch (DeviceException e) {
            if (e.errno() == Errno.ENOTSUP || e.errno() == Errno.EINVAL || e.errno() == Errno.ENOSYS) {
                return -1;
            }
            throw e;
        }
    }
}
