package io.jvfio.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.RegionDescription;
import io.jvfio.client.VfioUserClient;
import io.jvfio.client.VfioUserException;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.RegionTypeCap;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The variant card: every base-card test (inherited) plus what the variant adds. */
class PciIdio16DiagnosticsTest extends PciIdio16Test {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    PciIdio16 newCard() {
        return new PciIdio16Diagnostics();
    }

    private int counter(VfioUserClient client, int offset) throws Exception {
        return MemorySegment.ofArray(client.regionRead(9, offset, 4)).get(U32, 0);
    }

    @Test
    void announcesItsDiagnosticsRegionWithAVendorType() throws Exception {
        try (VfioUserClient client = connect(); RegionDescription region = client.regionInfo(9)) {
            assertThat(client.deviceInfo().numRegions()).isEqualTo(Vfio.PCI_NUM_REGIONS + 1);
            assertThat(region.size()).isEqualTo(16);
            assertThat(region.readable()).isTrue();
            assertThat(region.writable()).isFalse();
            RegionTypeCap type = region.info().cap(RegionTypeCap.class);
            assertThat(type).isEqualTo(new RegionTypeCap(PciIdio16Diagnostics.REGION_TYPE, PciIdio16Diagnostics.REGION_SUBTYPE));
            assertThat(counter(client, PciIdio16Diagnostics.MAGIC)).isEqualTo(PciIdio16Diagnostics.MAGIC_VALUE);
        }
    }

    @Test
    void countsInputChangesAndKeepsCountingAcrossItsOwnReset() throws Exception {
        try (VfioUserClient client = connect()) {
            card.setInputs(1);
            card.setInputs(1);      // no change: not counted
            card.setInputs(3);
            client.write8(Vfio.PCI_BAR2_REGION_INDEX, PciIdio16.OUT_0_7, 0xff);
            client.reset();
            assertThat(card.outputs()).as("the base card's reset still happens").isZero();
            assertThat(counter(client, PciIdio16Diagnostics.INPUT_CHANGES)).isEqualTo(2);
            assertThat(counter(client, PciIdio16Diagnostics.RESETS)).isEqualTo(1);
        }
    }

    @Test
    void theDiagnosticsRegionIsReadOnlyAndBounded() throws Exception {
        try (VfioUserClient client = connect()) {
            assertThatThrownBy(() -> client.write32(9, 0, 7)).isInstanceOf(VfioUserException.class)
                    .extracting(e -> ((VfioUserException) e).errno()).isEqualTo(Errno.EINVAL);
            assertThatThrownBy(() -> client.regionRead(9, 12, 8)).isInstanceOf(VfioUserException.class);
            assertThatThrownBy(() -> client.regionInfo(10)).isInstanceOf(VfioUserException.class);
        }
    }
}
