package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * A {@link VfioUserClient}'s DEVICE_FEATURE calls and the migration commands (device state, dirty
 * logging, migration data, pre-copy info), over its {@link CallChannel}.
 */
final class MigrationCalls {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final CallChannel channel;
    private final ClientOptions options;
    private final LongSupplier transferChunk;

    MigrationCalls(CallChannel channel, ClientOptions options, LongSupplier transferChunk) {
        this.channel = channel;
        this.options = options;
        this.transferChunk = transferChunk;
    }

    /** A call whose reply carries no fds (any that come are closed) and at most {@code maxReply} payload bytes. */
    private VfioUserClient.Reply call(Command command, Payload request, long maxReply) throws IOException {
        return channel.call(command, request, List.of(), options.callTimeout(), maxReply, 0);
    }

    DeviceFeature feature(DeviceFeature request) throws IOException {
        VfioUserClient.Reply r = call(Command.DEVICE_FEATURE, request, ArgSz.unsigned(request.argsz()));
        DeviceFeature reply = CallChannel.decode(() -> DeviceFeature.decode(r.payload()), "DEVICE_FEATURE reply");
        if (reply.feature() != request.feature()) {
            throw new VfioUserException(Errno.EPROTO, "DEVICE_FEATURE reply is for feature " + reply.feature()
                    + ", asked " + request.feature());
        }
        return reply;
    }

    boolean probeFeature(int feature, int ops) throws IOException {
        try {
            feature(DeviceFeature.of(feature | ops | Vfio.DEVICE_FEATURE_PROBE, null));
            return true;
        } catch (VfioUserException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOTTY) {
                return false;
            }
            throw e;
        }
    }

    FeatureMigration migrationFeature() throws IOException {
        DeviceFeature r = feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_MIGRATION, FeatureMigration.SIZE, null));
        return CallChannel.decode(() -> FeatureMigration.decode(r.dataSegment()), "DEVICE_FEATURE MIGRATION reply");
    }

    MigrationState migrationState() throws IOException {
        DeviceFeature r = feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE, FeatureMigDeviceState.SIZE, null));
        FeatureMigDeviceState s = CallChannel.decode(() -> FeatureMigDeviceState.decode(r.dataSegment()),
                "DEVICE_FEATURE MIG_DEVICE_STATE reply");
        return CallChannel.decode(s::state, "DEVICE_FEATURE MIG_DEVICE_STATE reply");
    }

    void setMigrationState(MigrationState state) throws IOException {
        feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_SET,
                FeatureMigDeviceState.of(state)));
    }

    long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException {
        DeviceFeature r = feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_START | Vfio.DEVICE_FEATURE_SET,
                new FeatureDmaLoggingControl(pageSize, ranges)));
        MemorySegment data = r.dataSegment();
        return data.byteSize() >= 8 ? data.get(LE_LONG, 0) : pageSize;
    }

    void stopDmaLogging() throws IOException {
        feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP | Vfio.DEVICE_FEATURE_SET, null));
    }

    FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize) throws IOException {
        FeatureDmaLoggingReport request = FeatureDmaLoggingReport.request(iova, length, pageSize);
        long replyData = FeatureDmaLoggingReport.SIZE + request.expectedBitmapSize();
        if (replyData > options.maxDataXferSize()) {
            throw new VfioUserException(Errno.E2BIG, "a dirty bitmap of " + request.expectedBitmapSize()
                    + " bytes exceeds this client's transfer limit; ask for a smaller range");
        }
        DeviceFeature r = feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT, replyData, request));
        FeatureDmaLoggingReport report = CallChannel.decode(() -> FeatureDmaLoggingReport.decode(r.dataSegment()),
                "DMA_LOGGING_REPORT reply");
        if (report.iova() != iova || report.length() != length || report.pageSize() != pageSize
                || report.bitmap().length != request.expectedBitmapSize()) {
            throw new VfioUserException(Errno.EPROTO, "DMA_LOGGING_REPORT reply does not answer the request: " + report);
        }
        return report;
    }

    byte[] migDataRead(int size) throws IOException {
        if (size < 0 || size > options.maxDataXferSize()) {
            throw new IllegalArgumentException("size must be in [0, " + options.maxDataXferSize() + "]: " + size);
        }
        VfioUserClient.Reply r = call(Command.MIG_DATA_READ, MigDataReadRequest.of(size), MigDataReadRequest.SIZE + (long) size);
        MigData reply = CallChannel.decode(() -> MigData.decodeAllowingPadding(r.payload(), size), "MIG_DATA_READ reply");
        return reply.data();
    }

    void migDataWrite(byte[] data) throws IOException {
        int chunk = (int) Math.min(Integer.MAX_VALUE, transferChunk.getAsLong());
        int done = 0;
        do {
            int n = Math.min(chunk, data.length - done);
            byte[] part = Arrays.copyOfRange(data, done, done + n);
            call(Command.MIG_DATA_WRITE, MigData.of(part), MigData.SIZE);
            done += n;
        } while (done < data.length);
    }

    PrecopyInfo precopyInfo() throws IOException {
        VfioUserClient.Reply r = call(Command.GET_PRECOPY_INFO, PrecopyInfo.request(), PrecopyInfo.SIZE);
        return CallChannel.decode(() -> PrecopyInfo.decode(r.payload()), "GET_PRECOPY_INFO reply");
    }
}
