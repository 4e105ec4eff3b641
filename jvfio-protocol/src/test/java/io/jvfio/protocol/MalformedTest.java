package io.jvfio.protocol;

import static io.jvfio.protocol.TestSupport.hex;
import static io.jvfio.protocol.TestSupport.rejects;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every class of malformed input is rejected with a precise ProtocolException, never an IndexOutOfBounds. */
class MalformedTest {
    private static MemorySegment bytes(int n) {
        return MemorySegment.ofArray(new byte[n]);
    }

    @Test
    void payloadShorterThanStruct() {
        rejects(() -> DmaMap.decode(bytes(20)), Errno.EINVAL, "DMA_MAP: payload is 20 bytes, needs 32");
        rejects(() -> DmaUnmap.decode(bytes(23)), Errno.EINVAL, "DMA_UNMAP: payload is 23 bytes, needs 24");
        rejects(() -> DeviceInfo.decode(bytes(12)), Errno.EINVAL, "DEVICE_GET_INFO: payload is 12 bytes, needs 16");
        rejects(() -> RegionInfo.decode(bytes(31)), Errno.EINVAL, "DEVICE_GET_REGION_INFO: payload is 31 bytes, needs 32");
        rejects(() -> RegionIoFds.decode(bytes(8)), Errno.EINVAL, "DEVICE_GET_REGION_IO_FDS: payload is 8 bytes");
        rejects(() -> IrqInfo.decode(bytes(15)), Errno.EINVAL, "DEVICE_GET_IRQ_INFO: payload is 15 bytes, needs 16");
        rejects(() -> IrqSet.decode(bytes(16)), Errno.EINVAL, "DEVICE_SET_IRQS: payload is 16 bytes, needs 20");
        rejects(() -> RegionReadRequest.decode(bytes(12)), Errno.EINVAL, "region access: payload is 12 bytes, needs 16");
        rejects(() -> RegionData.decode(bytes(0)), Errno.EINVAL, "region access: payload is 0 bytes");
        rejects(() -> DmaReadRequest.decode(bytes(8)), Errno.EINVAL, "DMA_READ: payload is 8 bytes, needs 16");
        rejects(() -> DmaReadReply.decode(bytes(8)), Errno.EINVAL, "DMA_READ reply: payload is 8 bytes");
        rejects(() -> DmaWriteRequest.decode(bytes(15)), Errno.EINVAL, "DMA_WRITE: payload is 15 bytes");
        rejects(() -> DmaWriteReply.decode(bytes(4), 0, 0), Errno.EINVAL, "DMA_WRITE reply: payload is 4 bytes, needs 0, 12 or 16");
        rejects(() -> RegionWriteMulti.decode(bytes(4)), Errno.EINVAL, "REGION_WRITE_MULTI: payload is 4 bytes, needs 8");
        rejects(() -> RegionWriteMultiReply.decode(bytes(4)), Errno.EINVAL, "REGION_WRITE_MULTI reply: payload is 4 bytes");
        rejects(() -> DeviceFeature.decode(bytes(7)), Errno.EINVAL, "DEVICE_FEATURE: payload is 7 bytes, needs 8");
        rejects(() -> MigDataReadRequest.decode(bytes(4)), Errno.EINVAL, "MIG_DATA_READ: payload is 4 bytes, needs 8");
        rejects(() -> MigData.decode(bytes(4)), Errno.EINVAL, "MIG_DATA: payload is 4 bytes");
        rejects(() -> MigData.decode(bytes(7)), Errno.EINVAL, "MIG_DATA: payload is 7 bytes");
        rejects(() -> MigDataWriteReply.decode(bytes(4)), Errno.EINVAL, "MIG_DATA_WRITE reply: payload is 4 bytes");
        rejects(() -> PrecopyInfo.decode(bytes(16)), Errno.EINVAL, "GET_PRECOPY_INFO: payload is 16 bytes, needs 24");
        rejects(() -> Version.decode(bytes(3)), Errno.EINVAL, "VERSION: payload is 3 bytes, needs 4");
        rejects(() -> FeatureMigration.decode(bytes(4)), Errno.EINVAL, "DEVICE_FEATURE MIGRATION: payload is 4 bytes");
        rejects(() -> FeatureMigDeviceState.decode(bytes(4)), Errno.EINVAL, "MIG_DEVICE_STATE: payload is 4 bytes");
        rejects(() -> FeatureDmaLoggingControl.decode(bytes(8)), Errno.EINVAL, "DMA_LOGGING_START: payload is 8 bytes");
        rejects(() -> FeatureDmaLoggingReport.decode(bytes(16)), Errno.EINVAL, "DMA_LOGGING_REPORT: payload is 16 bytes");
    }

    @Test
    void everyDecoderSurvivesEveryTruncation() {
        // Truncate valid messages at every length: only ProtocolException may escape, never an IOOBE.
        List<Payload> samples = List.of(
                new Version(0, 0, VersionCapabilities.DEFAULTS.withMaxMsgFds(4)),
                DmaMap.of(3, 0, 0x1000, 0x1000),
                new DmaUnmap(24 + 16 + 8, Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0x1000, 0x1000, Bitmap.of(4096, new byte[8])),
                DeviceInfo.reply(100, 2, 9, 5, List.of(new RawCapability(1, 1, new byte[16]))),
                RegionInfo.reply(200, 0, 7, 0x1000, 0, List.of(new RegionTypeCap(1, 2),
                        new SparseMmapCap(List.of(new SparseMmapCap.Area(0, 8))),
                        new SparseMmapFdsCap(List.of(new SparseMmapFdsCap.Area(0, 0, 8, 0))))),
                RegionIoFds.reply(200, 0, List.of(IoFdEntry.shadowIoeventfd(0, 4, 0, 0, 1, 0, 0))),
                IrqSet.bools(0, Vfio.IRQ_SET_ACTION_TRIGGER, 0, new byte[] {1, 1}),
                new RegionData(0, 0, new byte[5]),
                new DmaWriteRequest(0, new byte[5]),
                new DmaReadReply(0, new byte[5]),
                new RegionWriteMulti(List.of(new RegionWriteMulti.Entry(0, 0, new byte[3]))),
                DeviceFeature.of(Vfio.DEVICE_FEATURE_SET | 6, new FeatureDmaLoggingControl(4096,
                        List.of(new FeatureDmaLoggingControl.Range(0, 4096)))),
                MigData.of(new byte[3]));
        for (Payload p : samples) {
            byte[] full = p.toBytes();
            for (int len = 0; len < full.length; len++) {
                MemorySegment s = MemorySegment.ofArray(java.util.Arrays.copyOf(full, len));
                for (Command c : Command.values()) {
                    try {
                        Message.decodeRequest(c, s, 1 << 20);
                        Message.decodeReply(c, s, 1 << 20);
                        FeatureDmaLoggingControl.decode(s);
                        FeatureDmaLoggingReport.decode(s);
                        DmaReadReply.decode(s, 0, 5);
                        DmaWriteReply.decode(s, 0, 5);
                    } catch (ProtocolException expected) {
                        assertThat(expected.errno()).isPositive();
                    }
                }
            }
        }
    }

    @Test
    void argszInconsistent() {
        rejects(() -> DmaMap.decode(hex("10000000 03000000 0000000000000000 0010000000000000 0010000000000000")),
                Errno.EINVAL, "DMA_MAP: argsz is 16, needs at least 32");
        rejects(() -> DeviceInfo.decode(hex("08000000 00000000 00000000 00000000")), Errno.EINVAL,
                "DEVICE_GET_INFO: argsz is 8, needs at least 16");
        rejects(() -> RegionInfo.decode(bytes(32)), Errno.EINVAL, "DEVICE_GET_REGION_INFO: argsz is 0, needs at least 32");
        rejects(() -> IrqSet.decode(hex("10000000 22000000 00000000 00000000 00000000")), Errno.EINVAL,
                "DEVICE_SET_IRQS: argsz is 16, needs at least 20");
        rejects(() -> IrqSet.decode(hex("14000000 22000000 00000000 00000000 02000000 0101")), Errno.EINVAL,
                "DEVICE_SET_IRQS: argsz is 20, needs at least 22");
        rejects(() -> MigDataReadRequest.decode(hex("08000000 10000000")), Errno.EINVAL, "MIG_DATA_READ: argsz is 8, needs at least 24");
        rejects(() -> DeviceFeature.decode(hex("04000000 01000100")), Errno.EINVAL, "DEVICE_FEATURE: argsz is 4");
        rejects(() -> DmaUnmap.decode(hex("28000000 01000000 0010000000000000 0010000000000000 0010000000000000 0800000000000000")),
                Errno.EINVAL, "argsz 40 cannot hold the 8-byte dirty bitmap");
        rejects(() -> DeviceFeature.getReply(DeviceFeature.get(1, 0, null), new FeatureMigration(1)), Errno.EINVAL,
                "DEVICE_FEATURE 1 GET: argsz 8 is smaller than the 16 bytes needed");
    }

    @Test
    void overflowingCounts() {
        rejects(() -> DmaMap.decode(DmaMap.of(3, 0, 0xffff_ffff_ffff_f000L, 0x2000).toSegment()), Errno.EINVAL,
                "DMA_MAP: address 0xfffffffffffff000 + size 0x2000 wraps around");
        rejects(() -> DmaMap.decode(DmaMap.of(3, -1L, 0, 2).toSegment()), Errno.EINVAL, "DMA_MAP: offset 0xffffffffffffffff + size 0x2 wraps");
        rejects(() -> DmaMap.decode(DmaMap.of(3, 0, 0x1000, 0).toSegment()), Errno.EINVAL, "DMA_MAP: size is 0");
        rejects(() -> DmaUnmap.decode(DmaUnmap.of(-4096, 8192).toSegment()), Errno.EINVAL, "DMA_UNMAP: address 0xfffffffffffff000 + size 0x2000 wraps");
        rejects(() -> RegionReadRequest.decode(new RegionReadRequest(0, 0, 4097).toSegment(), 4096), Errno.E2BIG,
                "region access: count 4097 exceeds the limit of 4096");
        rejects(() -> RegionReadRequest.decode(new RegionReadRequest(0, 0, -1).toSegment()), Errno.E2BIG, "count 4294967295 exceeds");
        rejects(() -> RegionReadRequest.decode(new RegionReadRequest(-2, 0, 4).toSegment()), Errno.EINVAL, "wraps around");
        rejects(() -> RegionAccess.validate(new RegionReadRequest(0, 0, 8).toSegment(), 1 << 20, true), Errno.EINVAL,
                "region access: payload is 16 bytes, count 8 needs 24");
        rejects(() -> DmaReadRequest.decode(new DmaReadRequest(0, (1 << 20) + 1).toSegment()), Errno.E2BIG,
                "DMA_READ: count 1048577 exceeds the limit of 1048576");
        rejects(() -> DmaWriteRequest.decode(hex("0000000000000000 0800000000000000 0102")), Errno.EINVAL,
                "DMA_WRITE: payload is 18 bytes, count 8 needs 24");
        rejects(() -> IrqSet.decode(IrqSet.eventfds(2, Vfio.IRQ_SET_ACTION_TRIGGER, -1, 2).toSegment()), Errno.EINVAL,
                "DEVICE_SET_IRQS: start 4294967295 + count 2 overflows");
        rejects(() -> IrqSet.decode(hex("18000000 22000000 00000000 00000000 04000000 0101")), Errno.EINVAL,
                "DEVICE_SET_IRQS with 4 BOOL bytes: payload is 22 bytes, needs 24");
        rejects(() -> RegionWriteMulti.decode(hex("0300000000000000" + "00".repeat(24))), Errno.EINVAL,
                "REGION_WRITE_MULTI: payload is 32 bytes, wr_cnt 3 needs 80");
        rejects(() -> RegionWriteMulti.decode(hex("0100000000000000 0000000000000000 00000000 09000000 0000000000000000")),
                Errno.EINVAL, "entry 0 count 9 exceeds 8");
        rejects(() -> RegionWriteMulti.decode(hex("ffffffffffffffff")), Errno.E2BIG, "wr_cnt: count 18446744073709551615 exceeds the limit of 200");
        rejects(() -> MigDataReadRequest.decode(MigDataReadRequest.of(2 << 20).toSegment()), Errno.E2BIG, "MIG_DATA_READ size");
        rejects(() -> MigData.decode(hex("10000000 08000000 0102")), Errno.EINVAL, "MIG_DATA: payload is 10 bytes, size 8 needs 16");
        rejects(() -> RegionIoFds.decode(hex("20000000 00000000 00000000 02000000" + "00".repeat(16))), Errno.EINVAL,
                "entry stride (argsz 32 - 16) / count 2 = 8 is below 40");
        rejects(() -> RegionIoFds.decode(hex("68000000 00000000 00000000 02000000" + "00".repeat(48))), Errno.EINVAL,
                "DEVICE_GET_REGION_IO_FDS with 2 entries of 44 bytes: payload is 64 bytes, needs 104");
        rejects(() -> SparseMmapCap.decodeBody(hex("ffffffff 00000000")), Errno.EINVAL, "SPARSE_MMAP capability with 4294967295 areas");
    }

    @Test
    void flags() {
        rejects(() -> DmaMap.decode(DmaMap.of(0x10, 0, 0, 1).toSegment()), Errno.EINVAL, "DMA_MAP: unknown flags 0x10");
        rejects(() -> DmaMap.decode(DmaMap.of(0xc, 0, 0, 1).toSegment()), Errno.EINVAL, "access modes MMAP and FILE_IO are exclusive");
        rejects(() -> DmaUnmap.decode(new DmaUnmap(24, 2, 0x1000, 0, null).toSegment()), Errno.EINVAL, "ALL needs address and size 0");
        rejects(() -> DmaUnmap.decode(new DmaUnmap(24, 3, 0, 0, null).toSegment()), Errno.EINVAL, "ALL and GET_DIRTY_BITMAP are exclusive");
        rejects(() -> DmaUnmap.decode(new DmaUnmap(24, 4, 0, 0, null).toSegment()), Errno.EINVAL, "DMA_UNMAP: unknown flags 0x4");
        rejects(() -> IrqSet.decode(new IrqSet(20, Vfio.IRQ_SET_DATA_NONE | Vfio.IRQ_SET_DATA_EVENTFD | Vfio.IRQ_SET_ACTION_TRIGGER, 0, 0, 0, null).toSegment()),
                Errno.EINVAL, "exactly one data type");
        rejects(() -> IrqSet.decode(new IrqSet(20, Vfio.IRQ_SET_DATA_NONE, 0, 0, 0, null).toSegment()), Errno.EINVAL, "exactly one action");
        rejects(() -> IrqSet.decode(new IrqSet(20, Vfio.IRQ_SET_DATA_NONE | Vfio.IRQ_SET_ACTION_MASK | Vfio.IRQ_SET_ACTION_UNMASK, 0, 0, 0, null).toSegment()),
                Errno.EINVAL, "exactly one action");
        rejects(() -> IrqSet.decode(new IrqSet(20, 0x41, 0, 0, 0, null).toSegment()), Errno.EINVAL, "DEVICE_SET_IRQS: unknown flags 0x40");
        rejects(() -> DeviceFeature.decode(hex("08000000 01000300")), Errno.EINVAL, "GET and SET together need PROBE");
        rejects(() -> DeviceFeature.decode(hex("08000000 01000800")), Errno.EINVAL, "DEVICE_FEATURE: unknown flags 0x80000");
        rejects(() -> RegionIoFds.decode(hex("10000000 01000000 00000000 00000000")), Errno.EINVAL, "flags must be 0");
        rejects(() -> FeatureMigration.decode(hex("0400000000000000")), Errno.EINVAL, "STOP_COPY is mandatory");
        rejects(() -> FeatureMigDeviceState.decode(hex("08000000 00000000")), Errno.EINVAL, "unknown migration state 8");
        rejects(() -> FeatureDmaLoggingControl.decode(hex("0310000000000000 00000000 00000000")), Errno.EINVAL, "page_size 4099 is not a power of two");
        rejects(() -> FeatureDmaLoggingReport.decode(hex("0000000000000000 0000010000000000 0010000000000000 00")), Errno.EINVAL,
                "bitmap is 1 bytes, the range needs 8");
    }

    @Test
    void fdsForSetIrqsAndDmaMap() throws Exception {
        IrqSet ev = IrqSet.eventfds(2, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 3);
        ev.checkFds(3);
        ev.checkFds(0); // de-assign
        rejects(() -> ev.checkFds(2), Errno.EINVAL, "DEVICE_SET_IRQS: 2 fds attached for count 3");
        rejects(() -> IrqSet.none(0, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1).checkFds(1), Errno.EINVAL, "1 fds attached without DATA_EVENTFD");
        DmaMap.of(Vfio.DMA_MAP_FLAG_READ, 0, 0, 1).checkFds(0);
        DmaMap.of(Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO, 0, 0, 1).checkFds(1);
        rejects(() -> DmaMap.of(Vfio.DMA_MAP_FLAG_ACCESS_MMAP, 0, 0, 1).checkFds(0), Errno.EINVAL, "access mode is set but no fd");
        rejects(() -> DmaMap.of(0, 0, 0, 1).checkFds(2), Errno.EINVAL, "DMA_MAP: 2 file descriptors");
    }

    @Test
    void versionJsonMustBeNulTerminatedAndWellFormed() {
        rejects(() -> Version.decode(hex("0000 0000 7b7d")), Errno.EINVAL, "VERSION: capabilities JSON (2 bytes) is not NUL-terminated");
        rejects(() -> Version.decode(hex("0000 0000 7b 00")), Errno.EINVAL, "VERSION: malformed capabilities JSON");
        rejects(() -> Version.decode(hex("0000 0000 5b5d 00")), Errno.EINVAL, "capabilities JSON is a ARRAY, not an object");
    }

    @Test
    void dmaReplyMismatches() {
        rejects(() -> DmaReadReply.decode(hex("0010000000000000 0500000000000000 01020304")), Errno.EINVAL,
                "DMA_READ reply: payload is 20 bytes, count 5 needs 21");
        rejects(() -> DmaReadReply.decode(hex("0010000000000000 05000000 01020304"), 0x1000, 8), Errno.EINVAL,
                "match neither the u64-count nor the u32-count layout");
        rejects(() -> DmaReadReply.decode(hex("0020000000000000 0400000000000000 01020304"), 0x1000, 4), Errno.EINVAL,
                "DMA_READ reply: address 0x2000, expected 0x1000");
        rejects(() -> DmaReadReply.decode(hex("0010000000000000 0400000000000000 01020304"), 0x1000, 2), Errno.EINVAL,
                "count 4 exceeds the 2 requested");
        rejects(() -> DmaWriteReply.decode(hex("0010000000000000 0900000000000000"), 0x1000, 8), Errno.EINVAL,
                "count 9 exceeds the 8 written");
        rejects(() -> DmaWriteReply.decode(hex("0000000000000000 0800000000000000"), 0x1000, 8), Errno.EINVAL,
                "address 0x0, expected 0x1000");
    }

    @Test
    void encodeIntoTooSmallDestinationIsAProgrammingError() {
        assertThatThrownBy(() -> DmaMap.of(0, 0, 0, 1).encode(bytes(31))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("DmaMap: destination is 31 bytes, needs 32");
    }
}
