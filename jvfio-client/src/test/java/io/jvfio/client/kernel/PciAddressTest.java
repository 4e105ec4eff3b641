package io.jvfio.client.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PciAddressTest {
    @Test
    void longAndShortFormsParseToSysfssName() {
        assertThat(PciAddress.parse("0000:00:04.0")).isEqualTo(new PciAddress(0, 0, 4, 0));
        assertThat(PciAddress.parse("00:04.0")).hasToString("0000:00:04.0");
        assertThat(PciAddress.parse("0001:3B:1f.7")).hasToString("0001:3b:1f.7");
        assertThat(PciAddress.parse("10000:01:00.0")).hasToString("10000:01:00.0"); // VMD domains have five digits
    }

    @Test
    void pathsAndMalformedAddressesAreNoAddresses() {
        assertThat(PciAddress.tryParse("/tmp/nvme.sock")).isEmpty();
        assertThat(PciAddress.tryParse("/dev/vfio/devices/vfio0")).isEmpty();
        assertThat(PciAddress.tryParse("00:20.0")).as("device 0x20 > 0x1f").isEmpty();
        assertThat(PciAddress.tryParse("00:04.8")).isEmpty();
        assertThat(PciAddress.tryParse("0:04.0")).isEmpty();
        assertThat(PciAddress.tryParse("00:04.0 ")).isEmpty();
        assertThatThrownBy(() -> PciAddress.parse("nvme0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0000:00:04.0 or 00:04.0");
    }
}
