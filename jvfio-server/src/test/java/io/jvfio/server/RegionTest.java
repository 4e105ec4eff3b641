package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Mapping;
import io.jvfio.pci.PciCapabilityIds;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.RegionTypeCap;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import io.jvfio.protocol.SparseMmapCap;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Device and region info (the argsz rule) and region accesses. */
class RegionTest extends ServerTestBase {
    static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX;

    @Test
    void deviceInfoWithArgsz16IsExactly16Bytes() throws Exception {
        start();
        try (TestPeer.Msg m = client().call(Command.DEVICE_GET_INFO, DeviceInfo.request(16))) {
            assertThat(m.payload()).hasSize(16);
            DeviceInfo info = DeviceInfo.decode(m.seg());
            assertThat(info.flags() & Vfio.DEVICE_FLAGS_PCI).isNotZero();
            assertThat(info.numRegions()).isEqualTo(TestDevice.VENDOR_REGION + 1);
            assertThat(info.numIrqs()).isEqualTo(Vfio.PCI_NUM_IRQS);
        }
    }

    @Test
    void regionInfoWithCapsIsCutToTheOfferedArgszWithoutFd() throws Exception {
        start();
        TestPeer c = client();
        long needed;
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(32, TestDevice.VENDOR_REGION))) {
            assertThat(m.payload()).hasSize(32);
            assertThat(m.fds()).as("the fd comes only with the full answer").isEmpty();
            RegionInfo info = RegionInfo.decode(m.seg());
            needed = Integer.toUnsignedLong(info.argsz());
            assertThat(needed).isGreaterThan(32);
            assertThat(info.flags() & Vfio.REGION_INFO_FLAG_CAPS).isNotZero();
            assertThat(info.caps()).isEmpty();
            assertThat(info.size()).isEqualTo(TestDevice.REGION_SIZE);
        }
        try (TestPeer.Msg m = c.call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request((int) needed, TestDevice.VENDOR_REGION))) {
            assertThat(m.payload()).hasSize((int) needed);
            assertThat(m.fds()).hasSize(1);
            RegionInfo info = RegionInfo.decode(m.seg());
            assertThat(info.flags() & Vfio.REGION_INFO_FLAG_MMAP).isNotZero();
            assertThat(info.cap(RegionTypeCap.class)).isEqualTo(new RegionTypeCap(TestDevice.VENDOR_TYPE, TestDevice.VENDOR_SUBTYPE));
            assertThat(info.cap(SparseMmapCap.class).areas()).containsExactly(new SparseMmapCap.Area(0, TestDevice.REGION_SIZE / 2));
            // The fd maps the region's memory.
            device.vendorRegion().set(ValueLayout.JAVA_LONG_UNALIGNED, 0x18, 0x5EED5EEDL);
            try (Mapping map = Mapping.map(m.fds().getFirst(), info.offset(), TestDevice.REGION_SIZE, true)) {
                assertThat(map.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0x18)).isEqualTo(0x5EED5EEDL);
                map.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x20, 0xABCD);
            }
            assertThat(c.read(TestDevice.VENDOR_REGION, 0x20, 4)).containsExactly(0xCD, 0xAB, 0, 0);
        }
    }

    @Test
    void regionInfoForEveryPciIndexAndNoneBeyond() throws Exception {
        start();
        TestPeer c = client();
        for (int i = 0; i < Vfio.PCI_NUM_REGIONS; i++) {
            try (TestPeer.Msg m = c.call(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(32, i))) {
                assertThat(m.payload()).hasSize(32);
            }
        }
        assertThat(c.callError(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(32, TestDevice.VENDOR_REGION + 1))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_GET_REGION_INFO, RegionInfo.request(32, -1))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void accessesPastTheEndFailWithEinval() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(0, TestDevice.REGION_SIZE - 2, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_WRITE, TestPeer.regionWrite(0, TestDevice.REGION_SIZE, new byte[1]), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(CONFIG, 255, 2), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(0, -4, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(1, 0, 4), List.of())).as("absent BAR").isEqualTo(Errno.EINVAL);
    }

    @Test
    void regionIndicesOutOfRangeFailWithEinval() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(TestDevice.VENDOR_REGION + 1, 0, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(-1, 0, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.REGION_WRITE, TestPeer.regionWrite(0x8000_0000, 0, new byte[4]), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void countsAboveMaxDataXferSizeAreRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(0, 0, ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE + 1), List.of()))
                .isNotZero();
        assertThat(c.callError(Command.REGION_WRITE,
                TestPeer.regionWrite(0, 0, new byte[ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE + 1]), List.of())).isNotZero();
        assertThat(c.read(CONFIG, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void aWriteWhoseCountDisagreesWithItsSizeIsRefused() throws Exception {
        start();
        TestPeer c = client();
        byte[] p = TestPeer.regionWrite(0, 0, new byte[8]);
        MemorySegment.ofArray(p).set(ValueLayout.JAVA_INT_UNALIGNED, 12, 16);
        assertThat(c.callError(Command.REGION_WRITE, p, List.of())).isEqualTo(Errno.EINVAL);
    }

    @Test
    void wholeConfigSpaceInOneReadEqualsTheConfigSpace() throws Exception {
        start();
        byte[] read = client().read(CONFIG, 0, 256);
        byte[] expected = new byte[256];
        device.config().read(0, expected, 0, 256);
        assertThat(read).containsExactly(expected);
        assertThat(read[0x34] & 0xff).as("capability pointer").isNotZero();
    }

    @Test
    void oddSizedUnalignedConfigWritesAreAccepted() throws Exception {
        start();
        TestPeer c = client();
        int msix = device.config().capability(PciCapabilityIds.MSIX).orElseThrow().offset();
        int controlHigh = msix + 3; // Message Control is at +2; +1 of it is its high byte
        // Enable MSI-X (bit 15 = bit 7 of the high byte) with a 2-byte write at control + 1.
        byte[] nextByte = c.read(CONFIG, controlHigh + 1, 1);
        c.write(CONFIG, controlHigh, new byte[] {(byte) 0x80, nextByte[0]});
        assertThat(device.config().msix().orElseThrow().enabled()).isTrue();
        assertThat(c.read(CONFIG, msix + 2, 2)[1] & 0x80).isNotZero();
        c.write(CONFIG, 0x3d, new byte[] {1, 2, 3}); // 3 bytes across read-only registers
        c.write(CONFIG, 0x05, new byte[] {0});
    }

    @Test
    void writeMultipleAppliesEntriesInOrderAndCountsThem() throws Exception {
        start();
        TestPeer c = client();
        RegionWriteMulti multi = new RegionWriteMulti(List.of(
                new RegionWriteMulti.Entry(0x10, 0, new byte[] {1, 1, 1, 1}),
                new RegionWriteMulti.Entry(0x12, 0, new byte[] {2, 2}),
                new RegionWriteMulti.Entry(0x13, 0, new byte[] {3}),
                new RegionWriteMulti.Entry(0x40, 0, new byte[] {4, 4, 4, 4, 4, 4, 4, 4})));
        try (TestPeer.Msg m = c.call(Command.REGION_WRITE_MULTI, multi)) {
            assertThat(RegionWriteMultiReply.decode(m.seg()).wrCnt()).isEqualTo(4);
        }
        assertThat(device.writeLog).containsExactly("0x10:4", "0x12:2", "0x13:1", "0x40:8");
        assertThat(c.read(0, 0x10, 4)).containsExactly(1, 1, 2, 3);
    }

    @Test
    void writeMultipleWithABadRegionAppliesNothing() throws Exception {
        start();
        TestPeer c = client();
        RegionWriteMulti multi = new RegionWriteMulti(List.of(
                new RegionWriteMulti.Entry(0x10, 0, new byte[] {1}),
                new RegionWriteMulti.Entry(0, 77, new byte[] {2})));
        assertThat(c.callError(Command.REGION_WRITE_MULTI, multi)).isEqualTo(Errno.EINVAL);
        assertThat(device.writeLog).isEmpty();
    }
}
