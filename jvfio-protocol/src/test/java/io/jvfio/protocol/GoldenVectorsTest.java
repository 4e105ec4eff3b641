package io.jvfio.protocol;

import static io.jvfio.protocol.TestSupport.clean;
import static io.jvfio.protocol.TestSupport.hex;
import static io.jvfio.protocol.TestSupport.hexOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Byte vectors written by hand from the layouts in the protocol digest (little-endian, packed). */
class GoldenVectorsTest {

    @Test
    void versionRequestWithJson() throws Exception {
        String json = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";
        String jsonHex = HexFormat.of().formatHex(json.getBytes(StandardCharsets.US_ASCII));
        int size = 16 + 4 + json.length() + 1;
        String wire = "0100 0100 " + String.format("%02x000000", size) + " 00000000 00000000" // header: id 1, VERSION
                + "0000 0000" + jsonHex + "00"; // major 0, minor 0, JSON, NUL
        Version v = new Version(0, 0, VersionCapabilities.DEFAULTS.withMaxMsgFds(8).withMaxDataXferSize(1048576));
        assertThat(hexOf(Message.command(1, Command.VERSION, v))).isEqualTo(clean(wire));

        MemorySegment m = hex(wire);
        Header.validate(m, 4096);
        Version back = Version.decode(Message.payload(m));
        assertThat(back).isEqualTo(v);
        assertThat(back.capabilities().maxMsgFds()).isEqualTo(8);
        assertThat(back.capabilities().pgsizes()).isEqualTo(4096);
    }

    @Test
    void versionWithoutJson() throws Exception {
        Version v = Version.decode(hex("0000 0100"));
        assertThat(v).isEqualTo(new Version(0, 1, null));
        assertThat(v.capabilitiesOrDefaults().maxMsgFds()).isEqualTo(1);
        assertThat(hexOf(v)).isEqualTo("00000100");
    }

    @Test
    void dmaMap() throws Exception {
        String wire = "20000000 | 03000000 | 0010000000000000 | 00000c0000000000 | 0000004000000000";
        DmaMap m = DmaMap.decode(hex(wire));
        assertThat(m).isEqualTo(new DmaMap(32, 3, 0x1000, 0xc0000, 0x40000000));
        assertThat(m.readable()).isTrue();
        assertThat(m.writable()).isTrue();
        assertThat(hexOf(DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0x1000, 0xc0000, 0x40000000)))
                .isEqualTo(clean(wire));
    }

    @Test
    void dmaUnmapAll() throws Exception {
        String wire = "18000000 02000000 0000000000000000 0000000000000000";
        assertThat(hexOf(DmaUnmap.all())).isEqualTo(clean(wire));
        assertThat(DmaUnmap.decode(hex(wire)).isAll()).isTrue();
    }

    @Test
    void regionInfoReplyWithSparseMmap() throws Exception {
        String wire = "50000000 | 0f000000 | 00000000 | 20000000 | 0040000000000000 | 0000000000000000" // struct, caps at 32
                + "0100 0100 00000000" // cap header: SPARSE_MMAP v1, next 0
                + "02000000 00000000" // nr_areas 2, reserved
                + "0000000000000000 0010000000000000" // area 0: offset 0, size 0x1000
                + "0020000000000000 0020000000000000"; // area 1: offset 0x2000, size 0x2000
        RegionInfo expected = new RegionInfo(0x50, 0xf, 0, 0x4000, 0, List.of(new SparseMmapCap(List.of(
                new SparseMmapCap.Area(0, 0x1000), new SparseMmapCap.Area(0x2000, 0x2000)))));
        assertThat(RegionInfo.decode(hex(wire))).isEqualTo(expected);
        RegionInfo built = RegionInfo.reply(0x50, 0, Vfio.REGION_INFO_FLAG_READ | Vfio.REGION_INFO_FLAG_WRITE
                | Vfio.REGION_INFO_FLAG_MMAP, 0x4000, 0, expected.caps());
        assertThat(hexOf(built)).isEqualTo(clean(wire));
    }

    @Test
    void regionInfoReplyTruncatedToOffer() throws ProtocolException {
        // QEMU asks with argsz 32 first: we send the 32-byte struct, CAPS set, argsz = 80 needed, and
        // cap_offset 32 where the chain will be (QEMU refuses CAPS with a cap_offset below 32).
        RegionInfo r = RegionInfo.reply(32, 0, Vfio.REGION_INFO_FLAG_READ | Vfio.REGION_INFO_FLAG_MMAP, 0x4000, 0,
                List.of(new SparseMmapCap(List.of(new SparseMmapCap.Area(0, 0x1000), new SparseMmapCap.Area(0x2000, 0x2000)))));
        assertThat(hexOf(r)).isEqualTo(clean("50000000 0d000000 00000000 20000000 0040000000000000 0000000000000000"));
        assertThat(r.truncated()).isTrue();
        RegionInfo back = RegionInfo.decode(hex("50000000 0d000000 00000000 20000000 0040000000000000 0000000000000000"));
        assertThat(back.truncated()).isTrue();
        assertThat(back.caps()).isEmpty();
    }

    @Test
    void regionInfoRequest() {
        assertThat(hexOf(RegionInfo.request(32, 7))).isEqualTo(clean("20000000 00000000 07000000 00000000 0000000000000000 0000000000000000"));
    }

    @Test
    void setIrqsEventfdTrigger() throws Exception {
        String wire = "14000000 | 24000000 | 02000000 | 00000000 | 04000000";
        IrqSet s = IrqSet.decode(hex(wire));
        assertThat(s).isEqualTo(IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 4));
        assertThat(s.expectedFdCount()).isEqualTo(4);
        assertThat(hexOf(s)).isEqualTo(clean(wire));
    }

    @Test
    void setIrqsBoolMask() throws Exception {
        String wire = "17000000 | 0a000000 | 01000000 | 01000000 | 03000000 | 01 00 01";
        IrqSet s = IrqSet.decode(hex(wire));
        assertThat(s).isEqualTo(IrqSet.bools(Vfio.PCI_MSI_IRQ_INDEX, Vfio.IRQ_SET_ACTION_MASK, 1, new byte[] {1, 0, 1}));
        assertThat(s.selected(0)).isTrue();
        assertThat(s.selected(1)).isFalse();
        assertThat(s.expectedFdCount()).isZero();
    }

    @Test
    void regionReadRequestAndReply() throws Exception {
        String req = "1000000000000000 | 07000000 | 04000000";
        assertThat(RegionReadRequest.decode(hex(req))).isEqualTo(new RegionReadRequest(0x10, 7, 4));
        String reply = "1000000000000000 | 07000000 | 04000000 | deadbeef";
        RegionData r = RegionData.decode(hex(reply));
        assertThat(r).isEqualTo(new RegionData(0x10, 7, HexFormat.of().parseHex("deadbeef")));
        assertThat(hexOf(r)).isEqualTo(clean(reply));
        MemorySegment p = hex(reply);
        RegionAccess.validate(p, 4, true);
        assertThat(RegionAccess.offset(p)).isEqualTo(0x10);
        assertThat(RegionAccess.region(p)).isEqualTo(7);
        assertThat(RegionAccess.count(p)).isEqualTo(4);
        assertThat(hexOf(RegionAccess.data(p))).isEqualTo("deadbeef");
    }

    @Test
    void dmaReadReplyBothLayouts() throws Exception {
        String spec = "0010000000000000 | 0400000000000000 | 01020304";
        String qemu101 = "0010000000000000 | 04000000 | 01020304";
        DmaReadReply expected = new DmaReadReply(0x1000, new byte[] {1, 2, 3, 4});
        assertThat(DmaReadReply.decode(hex(spec))).isEqualTo(expected);
        assertThat(DmaReadReply.decode(hex(spec), 0x1000, 4)).isEqualTo(expected);
        assertThat(DmaReadReply.decode(hex(qemu101), 0x1000, 4)).isEqualTo(expected);
        assertThat(hexOf(expected)).isEqualTo(clean(spec));
        assertThat(hexOf(new DmaReadRequest(0x1000, 4))).isEqualTo(clean("0010000000000000 0400000000000000"));
    }

    @Test
    void dmaWriteReplyForms() throws Exception {
        assertThat(DmaWriteReply.decode(MemorySegment.ofArray(new byte[0]), 0x2000, 8)).isEqualTo(new DmaWriteReply(0x2000, 8));
        assertThat(DmaWriteReply.decode(hex("0020000000000000 08000000"), 0x2000, 8)).isEqualTo(new DmaWriteReply(0x2000, 8));
        assertThat(DmaWriteReply.decode(hex("0020000000000000 0800000000000000"), 0x2000, 8)).isEqualTo(new DmaWriteReply(0x2000, 8));
    }

    @Test
    void deviceInfoReply() throws Exception {
        String wire = "10000000 | 03000000 | 09000000 | 05000000";
        DeviceInfo i = DeviceInfo.reply(16, Vfio.DEVICE_FLAGS_RESET | Vfio.DEVICE_FLAGS_PCI, 9, 5, List.of());
        assertThat(hexOf(i)).isEqualTo(clean(wire));
        assertThat(DeviceInfo.decode(hex(wire))).isEqualTo(i);
    }

    @Test
    void deviceFeatureSetMigState() throws Exception {
        String wire = "10000000 | 02000200 | 01000000 ffffffff";
        DeviceFeature f = DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_SET,
                FeatureMigDeviceState.of(MigrationState.STOP));
        assertThat(hexOf(f)).isEqualTo(clean(wire));
        DeviceFeature back = DeviceFeature.decode(hex(wire));
        assertThat(back.isSet()).isTrue();
        assertThat(back.feature()).isEqualTo(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE);
        assertThat(FeatureMigDeviceState.decode(back.dataSegment()).state()).isEqualTo(MigrationState.STOP);
    }

    @Test
    void regionWriteMulti() throws Exception {
        String wire = "0200000000000000"
                + "0010000000000000 00000000 04000000 78563412 00000000"
                + "0400000000000000 07000000 02000000 ffff000000000000";
        RegionWriteMulti m = RegionWriteMulti.decode(hex(wire));
        assertThat(m.entries()).containsExactly(
                new RegionWriteMulti.Entry(0x1000, 0, new byte[] {0x78, 0x56, 0x34, 0x12}),
                new RegionWriteMulti.Entry(4, 7, new byte[] {(byte) 0xff, (byte) 0xff}));
        assertThat(hexOf(m)).isEqualTo(clean(wire));
    }

    @Test
    void regionIoFdsReply() throws Exception {
        String wire = "38000000 00000000 00000000 01000000"
                + "0010000000000000 0400000000000000 00000000 00000000 01000000 00000000 0100000000000000";
        RegionIoFds r = RegionIoFds.decode(hex(wire));
        assertThat(r.entries()).containsExactly(IoFdEntry.ioeventfd(0x1000, 4, 0, Vfio.KVM_IOEVENTFD_FLAG_DATAMATCH, 1));
        assertThat(hexOf(RegionIoFds.reply(0x38, 0, r.entries()))).isEqualTo(clean(wire));
    }

    @Test
    void precopyInfo() throws Exception {
        String wire = "18000000 00000000 0010000000000000 0020000000000000";
        assertThat(PrecopyInfo.decode(hex(wire))).isEqualTo(PrecopyInfo.reply(0x1000, 0x2000));
    }
}
