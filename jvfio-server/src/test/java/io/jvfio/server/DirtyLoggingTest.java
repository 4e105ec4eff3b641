package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.FeatureDmaLoggingReport;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** DMA dirty logging (offered with migration): writes through mapped windows and by DMA_WRITE messages, reported at any page size. */
class DirtyLoggingTest extends ServerTestBase {
    static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
    static final long MAPPED = 0x100000, MAPPED_SIZE = 0x40000;   // 256 KiB backed by a memfd
    static final long MESSAGES = 0x200000, MESSAGES_SIZE = 0x10000; // 64 KiB without an fd
    static final long K4 = 0x1000, K64 = 0x10000;

    TestPeer c;

    @BeforeEach
    void windows() throws Exception {
        // Dirty logging comes with migration: a migratable device.
        device = new MigratableTestDevice();
        server = VfioUserServer.bind(socketPath(), device, ServerOptions.defaults());
        server.start();
        c = client();
        Fd memfd = closeLater(Memfd.create("client-ram", MAPPED_SIZE));
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, MAPPED, MAPPED_SIZE), memfd).close();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, MESSAGES, MESSAGES_SIZE)).close();
    }

    private long startLogging(long pageSize, List<FeatureDmaLoggingControl.Range> ranges) throws Exception {
        try (TestPeer.Msg m = c.call(Command.DEVICE_FEATURE, DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_START
                | Vfio.DEVICE_FEATURE_SET, new FeatureDmaLoggingControl(pageSize, ranges)))) {
            return m.u64(DeviceFeature.SIZE);
        }
    }

    private void stopLogging() throws Exception {
        c.call(Command.DEVICE_FEATURE, DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP | Vfio.DEVICE_FEATURE_SET, null)).close();
    }

    private static DeviceFeature reportRequest(long iova, long length, long pageSize, long offered) {
        return DeviceFeature.get(Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT, offered, FeatureDmaLoggingReport.request(iova, length, pageSize));
    }

    /** The dirty pages' indices in the report. */
    private List<Integer> report(long iova, long length, long pageSize) throws Exception {
        long bitmap = FeatureDmaLoggingReport.bitmapSize(length, pageSize);
        try (TestPeer.Msg m = c.call(Command.DEVICE_FEATURE, reportRequest(iova, length, pageSize, FeatureDmaLoggingReport.SIZE + bitmap))) {
            assertThat(m.payload().length).isEqualTo(DeviceFeature.SIZE + FeatureDmaLoggingReport.SIZE + bitmap);
            assertThat(m.u64(DeviceFeature.SIZE)).isEqualTo(iova);
            List<Integer> pages = new java.util.ArrayList<>();
            for (int i = 0; i < bitmap * 8; i++) {
                int at = DeviceFeature.SIZE + FeatureDmaLoggingReport.SIZE + i / 8;
                if ((m.payload()[at] & (1 << (i % 8))) != 0) {
                    pages.add(i);
                }
            }
            return pages;
        }
    }

    private void deviceWrites(long iova, int length) throws Exception {
        device.dmaSpace().write(iova, MemorySegment.ofArray(new byte[length]));
    }

    /** A device thread writes through a window without an fd: a DMA_WRITE the test answers. */
    private void deviceWritesByMessage(long iova, int length) throws Exception {
        c.write(4, 0, TestDevice.dmaCommand(iova, length, TestDevice.OP_WRITE));
        try (TestPeer.Msg request = c.nextServerCommand()) {
            assertThat(request.command()).isEqualTo(Command.DMA_WRITE.code());
            byte[] answer = new byte[16];
            MemorySegment.ofArray(answer).set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0, iova);
            MemorySegment.ofArray(answer).set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8, length);
            c.reply(request, answer);
        }
        assertThat(device.nextDmaResult().error()).isNull();
    }

    @Test
    void writesThroughAMappedWindowShowUpAt4kAnd64kPages() throws Exception {
        assertThat(startLogging(K4, List.of())).isEqualTo(K4);
        deviceWrites(MAPPED + 0x5010, 16);
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).containsExactly(5);
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).as("a report clears what it showed").isEmpty();

        deviceWrites(MAPPED + 0x11000, 8);          // 4K page 17 = 64K page 1
        deviceWrites(MAPPED + 0x3ff00, 0x100);      // 4K page 63 = 64K page 3
        deviceWrites(MAPPED + 0x0fff8, 16);         // 4K pages 15 and 16: 64K pages 0 and 1
        assertThat(report(MAPPED, MAPPED_SIZE, K64)).containsExactly(0, 1, 3);
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).isEmpty();
    }

    @Test
    void writesByDmaWriteMessagesShowUpAt4kAnd64kPages() throws Exception {
        startLogging(K4, List.of());
        deviceWritesByMessage(MESSAGES + 0x3000, 0x2000);
        assertThat(report(MESSAGES, MESSAGES_SIZE, K4)).containsExactly(3, 4);
        deviceWritesByMessage(MESSAGES + 0xf000, 4);
        assertThat(report(MESSAGES, MESSAGES_SIZE, K64)).containsExactly(0);
        assertThat(report(MESSAGES, MESSAGES_SIZE, K64)).isEmpty();
    }

    @Test
    void aReportOfPartOfALoggedPageKeepsItsOtherPart() throws Exception {
        startLogging(K64, List.of());
        deviceWrites(MAPPED + 0x1000, 4);
        assertThat(report(MAPPED, K4 * 4, K4)).as("finer than logged: every 4K page of the dirty 64K page")
                .containsExactly(0, 1, 2, 3);
        assertThat(report(MAPPED, K64, K64)).as("the 64K page was only partly reported, so it is still dirty").containsExactly(0);
        assertThat(report(MAPPED, K64, K64)).isEmpty();
    }

    @Test
    void onlyTheRangesAskedForAreLogged() throws Exception {
        startLogging(K4, List.of(new FeatureDmaLoggingControl.Range(MAPPED + 0x10000, 0x10000)));
        deviceWrites(MAPPED + 0x2000, 4);
        deviceWrites(MAPPED + 0x12000, 4);
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).containsExactly(0x12);
    }

    @Test
    void stopForgetsEverythingAndReportsNeedLoggingOn() throws Exception {
        startLogging(K4, List.of());
        deviceWrites(MAPPED, 4);
        stopLogging();
        long bitmap = FeatureDmaLoggingReport.bitmapSize(MAPPED_SIZE, K4);
        assertThat(c.callError(Command.DEVICE_FEATURE, reportRequest(MAPPED, MAPPED_SIZE, K4, 24 + bitmap))).isEqualTo(Errno.EINVAL);
        startLogging(K4, List.of());
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).isEmpty();
        assertThat(c.callError(Command.DEVICE_FEATURE, DeviceFeature.of(Vfio.DEVICE_FEATURE_DMA_LOGGING_START
                | Vfio.DEVICE_FEATURE_SET, new FeatureDmaLoggingControl(K4, List.of())))).as("already on").isEqualTo(Errno.EBUSY);
    }

    @Test
    void segmentsHandedOutForWritingAreDirtyInEveryReport() throws Exception {
        startLogging(K4, List.of());
        assertThat(device.dmaSpace().segment(MAPPED + 0x8000, 0x1800, true)).isPresent();
        assertThat(device.dmaSpace().segment(MAPPED + 0x20000, 0x100, false)).isPresent();
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).containsExactly(8, 9);
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).as("the device may write them any time").containsExactly(8, 9);
    }

    @Test
    void aReportRefusedForItsSizeLosesNothing() throws Exception {
        startLogging(K4, List.of());
        deviceWrites(MAPPED + 0x7000, 4);
        assertThat(c.callError(Command.DEVICE_FEATURE, reportRequest(MAPPED, MAPPED_SIZE, K4, 24)))
                .as("argsz without room for the bitmap").isEqualTo(Errno.EINVAL);
        assertThat(report(MAPPED, MAPPED_SIZE, K4)).containsExactly(7);
    }

    @Test
    void aHugeRangeIsLoggedAtALargerPageSizeTheClientIsTold() throws Exception {
        long pageSize = startLogging(K4, List.of(new FeatureDmaLoggingControl.Range(0, 1L << 50)));
        assertThat(pageSize).isGreaterThan(K4);
        assertThat(Long.bitCount(pageSize)).isEqualTo(1);
    }
}
