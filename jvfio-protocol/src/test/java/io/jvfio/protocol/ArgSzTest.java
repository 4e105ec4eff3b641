package io.jvfio.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ArgSzTest {
    @Test
    void rule() {
        assertThat(ArgSz.replySize(32, 80, 32)).isEqualTo(32);
        assertThat(ArgSz.replySize(32, 80, 80)).isEqualTo(80);
        assertThat(ArgSz.replySize(32, 80, 1000)).isEqualTo(80);
        assertThat(ArgSz.unsigned(-1)).isEqualTo(0xFFFF_FFFFL);
    }

    @Test
    void deviceInfoNeverExceedsOffer() throws Exception {
        List<InfoCapability> caps = List.of(new RawCapability(Vfio.DEVICE_INFO_CAP_ZPCI_BASE, 1, new byte[48]));
        DeviceInfo full = DeviceInfo.reply(200, Vfio.DEVICE_FLAGS_PCI, 9, 5, caps);
        assertThat(full.encodedSize()).isEqualTo(24 + 56);
        assertThat(full.argsz()).isEqualTo(80);
        assertThat(full.flags() & Vfio.DEVICE_FLAGS_CAPS).isNotZero();
        assertThat(DeviceInfo.decode(full.toSegment())).isEqualTo(full);

        DeviceInfo small = DeviceInfo.reply(16, Vfio.DEVICE_FLAGS_PCI, 9, 5, caps);
        assertThat(small.encodedSize()).isEqualTo(16);
        assertThat(small.argsz()).isEqualTo(80);
        assertThat(small.truncated()).isTrue();

        DeviceInfo mid = DeviceInfo.reply(24, Vfio.DEVICE_FLAGS_PCI, 9, 5, caps);
        assertThat(mid.encodedSize()).isEqualTo(24);
        assertThat(mid.capOffset()).isZero();
        assertThat(DeviceInfo.decode(mid.toSegment())).isEqualTo(mid);
    }

    @Test
    void regionInfoAndIoFdsNeverExceedOffer() {
        for (long offer = 0; offer < 200; offer++) {
            RegionInfo r = RegionInfo.reply(offer, 0, 7, 4096, 0, List.of(new RegionTypeCap(1, 1),
                    new SparseMmapCap(List.of(new SparseMmapCap.Area(0, 4096)))));
            assertThat(r.encodedSize()).isLessThanOrEqualTo(Math.max(offer, RegionInfo.SIZE));
            assertThat(r.argsz()).isEqualTo(32 + 16 + 32);
            RegionIoFds f = RegionIoFds.reply(offer, 1, List.of(IoFdEntry.ioeventfd(0, 4, 0, 0, 0),
                    IoFdEntry.ioregionfd(8, 4, 0, 0, 7)));
            assertThat(f.encodedSize()).isLessThanOrEqualTo(Math.max(offer, RegionIoFds.SIZE));
            assertThat(f.argsz()).isEqualTo(16 + 80);
            assertThat(f.count()).isEqualTo(2);
        }
    }
}
