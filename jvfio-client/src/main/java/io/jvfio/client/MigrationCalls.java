package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.ArgSz;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * A {@link VfioUserClient}'s DEVICE_FEATURE calls and the migration commands (device state, dirty
 * logging, migration data, pre-copy info), over its {@link CallChannel}.
 */
final class MigrationCalls {
    private final CallChannel channel;
    private final ClientOptions options;
    private final LongSupplier transferChunk;
    private final FeatureCalls features = new FeatureCalls(this::feature, VfioUserException::new);

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
        return features.probe(feature, ops);
    }

    FeatureMigration migrationFeature() throws IOException {
        return features.migration();
    }

    MigrationState migrationState() throws IOException {
        return features.migrationState();
    }

    void setMigrationState(MigrationState state) throws IOException {
        features.setMigrationState(state);
    }

    long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException {
        return features.startDmaLogging(pageSize, ranges);
    }

    void stopDmaLogging() throws IOException {
        features.stopDmaLogging();
    }

    FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize) throws IOException {
        return features.dmaLoggingReport(iova, length, pageSize, options.maxDataXferSize());
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
