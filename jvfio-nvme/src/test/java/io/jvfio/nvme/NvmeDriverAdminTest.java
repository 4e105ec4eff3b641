package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SMART / Health log page and the controller reset against jvfio's controller. */
class NvmeDriverAdminTest {
    private static final int BAR = 0, CSTS = 0x1c, NSID = 1;
    /** Bit 2 of Critical Warning: NVM subsystem reliability degraded. */
    private static final int RELIABILITY_DEGRADED = 1 << 2;

    @TempDir
    Path dir;

    @Test
    void readsTheSmartLog() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults());
            IoQueue queue = driver.ioQueue();
            DmaRegion buffer = driver.allocateBuffer(64 << 10);
            for (int i = 0; i < 3; i++) {
                queue.write(NSID, 0, 128, buffer);   // 64 KiB each: 384 units of 512 bytes in all
            }
            queue.read(NSID, 0, 8, buffer);
            queue.read(NSID, 0, 8, buffer);

            SmartLog log = driver.smartLog();
            assertThat(log.hostWriteCommands()).isEqualTo(3);
            assertThat(log.hostReadCommands()).isEqualTo(2);
            assertThat(log.dataUnitsWritten()).as("thousands of 512-byte units, rounded up").isEqualTo(1);
            assertThat(log.dataUnitsRead()).isEqualTo(1);
            assertThat(log.criticalWarning()).isZero();
            assertThat(log.temperatureKelvin()).isBetween(273, 373);
            assertThat(log.temperatureCelsius()).isEqualTo(log.temperatureKelvin() - 273);
            assertThat(log.availableSparePercent()).isEqualTo(100);
            assertThat(log.spareThresholdPercent()).isBetween(1, 100);
            assertThat(log.powerCycles()).isEqualTo(1);

            served.controller.asyncEvents().criticalWarning(RELIABILITY_DEGRADED);
            assertThat(driver.smartLog().criticalWarning()).isEqualTo(RELIABILITY_DEGRADED);
        }
    }

    @Test
    void resetsTheControllerAndCarriesOn() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            NvmeDriver driver = served.open(NvmeDriver.Options.defaults());
            assertThat(served.controller.doorbellStatistics().shadowConfigurations()).isEqualTo(1);
            for (int i = 0; i < 3; i++) {   // more admin commands than entries over the resets would not matter: each starts anew
                driver.reset();
            }
            assertThat(served.client.read32(BAR, CSTS) & 3).as("ready, no fatal status").isEqualTo(1);
            assertThat(served.controller.doorbellStatistics().shadowConfigurations()).as("Doorbell Buffer Config again")
                    .isEqualTo(4);
            assertThat(driver.smartLog().powerCycles()).isEqualTo(1);
            IoQueue queue = driver.ioQueue();
            DmaRegion buffer = driver.allocateBuffer(4096);
            buffer.segment().fill((byte) 0x5a);
            queue.write(NSID, 3, 8, buffer);
            buffer.segment().fill((byte) 0);
            queue.read(NSID, 3, 8, buffer);
            assertThat(buffer.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsOnly(0x5a);
            assertThat(driver.shadowDoorbells()).isTrue();
            assertThatThrownBy(driver::reset).isInstanceOf(IllegalStateException.class).hasMessageContaining("I/O queues");
        }
    }
}
