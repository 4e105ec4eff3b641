package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.ControllerRegisters.PAGE_SIZE;
import static io.jvfio.nvme.spec.Nvme.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.storage.NullStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code shadowDoorbells(false)}, the baseline of {@code jvfio bench nvme}: Identify Controller
 * leaves OACS bit 8 (Doorbell Buffer Config) clear, so Linux never sets up shadow doorbells;
 * by default the bit is set.
 */
class NvmeShadowDoorbellOptionTest {
    @ParameterizedTest(name = "shadow doorbells advertised: {0}")
    @ValueSource(booleans = {true, false})
    void identifyAdvertisesDoorbellBufferConfigOnlyWhenAsked(boolean advertised) {
        NvmeController.Builder builder = NvmeController.builder().namespace(new NullStore(1 << 20));
        NvmeController nvme = (advertised ? builder : builder.shadowDoorbells(false)).build();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(PAGE_SIZE);
            assertThat(nvme.identify.fill(page, CNS_CONTROLLER, 0)).isEqualTo(SC_SUCCESS);
            int oacs = page.get(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_OACS);
            assertThat(oacs & OACS_DOORBELL_BUFFER_CONFIG).as("OACS bit 8").isEqualTo(advertised ? OACS_DOORBELL_BUFFER_CONFIG : 0);
        } finally {
            nvme.shutdown();
        }
    }
}
