package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The {@link DeviceHandle} calls made of DEVICE_FEATURE (probe, migration flavours and state, DMA
 * dirty logging), written once over whatever carries one feature call: a vfio-user message or the
 * kernel's ioctl. Each backend supplies its call and the exception it throws.
 */
public final class FeatureCalls {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One DEVICE_FEATURE: the request as built here, the reply (for GET with its data). */
    @FunctionalInterface
    public interface Call {
        DeviceFeature feature(DeviceFeature request) throws IOException;
    }

    private final Call call;
    private final DeviceException.Factory errors;

    public FeatureCalls(Call call, DeviceException.Factory errors) {
        this.call = call;
        this.errors = errors;
    }

    /** DEVICE_FEATURE PROBE; EINVAL and ENOTTY mean "no", other errors are thrown. */
    public boolean probe(int feature, int ops) throws IOException {
        try {
            call.feature(DeviceFeature.of(feature | ops | Vfio.DEVICE_FEATURE_PROBE, null));
            return true;
        } catch (DeviceException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOTTY) {
                return false;
            }
            throw e;
        }
    }

    public FeatureMigration migration() throws IOException {
        DeviceFeature r = call.feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_MIGRATION, FeatureMigration.SIZE, null));
        return decode(() -> FeatureMigration.decode(r.dataSegment()), "DEVICE_FEATURE MIGRATION reply");
    }

    public MigrationState migrationState() throws IOException {
        DeviceFeature r = call.feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE, FeatureMigDeviceState.SIZE, null));
        FeatureMigDeviceState s = decode(() -> FeatureMigDeviceState.decode(r.dataSegment()),
                "DEVICE_FEATURE MIG_DEVICE_STATE reply");
        return decode(s::state, "DEVICE_FEATURE MIG_DEVICE_STATE reply");
    }

    public void setMigrationState(MigrationState state) throws IOException {
        call.feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_SET,
                FeatureMigDeviceState.of(state)));
    }

    public long startDmaLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws IOException {
        DeviceFeature r = call.feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_START | Vfio.DEVICE_FEATURE_SET,
                new FeatureDmaLoggingControl(pageSize, ranges)));
        MemorySegment data = r.dataSegment();
        return data.byteSize() >= 8 ? data.get(LE_LONG, 0) : pageSize;
    }

    public void stopDmaLogging() throws IOException {
        call.feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP | Vfio.DEVICE_FEATURE_SET, null));
    }

    /** DMA_LOGGING_REPORT GET, checked to answer the request; E2BIG when the reply would exceed {@code maxReplyData}. */
    public FeatureDmaLoggingReport dmaLoggingReport(long iova, long length, long pageSize, long maxReplyData) throws IOException {
        FeatureDmaLoggingReport request = FeatureDmaLoggingReport.request(iova, length, pageSize);
        long replyData = FeatureDmaLoggingReport.SIZE + request.expectedBitmapSize();
        if (replyData > maxReplyData) {
            throw errors.of(Errno.E2BIG, "a dirty bitmap of " + request.expectedBitmapSize()
                    + " bytes exceeds this client's transfer limit; ask for a smaller range", null);
        }
        DeviceFeature r = call.feature(DeviceFeature.get(Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT, replyData, request));
        FeatureDmaLoggingReport report = decode(() -> FeatureDmaLoggingReport.decode(r.dataSegment()),
                "DMA_LOGGING_REPORT reply");
        if (report.iova() != iova || report.length() != length || report.pageSize() != pageSize
                || report.bitmap().length != request.expectedBitmapSize()) {
            throw errors.of(Errno.EPROTO, "DMA_LOGGING_REPORT reply does not answer the request: " + report, null);
        }
        return report;
    }

    private <T> T decode(DeviceException.Decoder<T> decoder, String what) throws DeviceException {
        return DeviceException.decoded(decoder, what, errors);
    }
}
