package io.jvfio.nvme;

import static io.jvfio.nvme.spec.Nvme.CSTS_NSSRO;
import static io.jvfio.nvme.spec.Nvme.CSTS_RDY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.devices.nvme.NvmeFaultAction;
import io.jvfio.devices.nvme.NvmeFaults;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java driver against jvfio's controller made to fail ({@link NvmeFaults}): a media error on an
 * LBA range fails exactly the reads of that range and the rest read back; a delayed completion
 * within the timeout is just late; read-only media fail writes with the spec's status and warn in the
 * SMART log; CSTS.CFS, and an NVM subsystem reset, make the driver reset the controller at the
 * command's timeout and carry on with the data intact. Nothing asserts how long anything took.
 */
class NvmeDriverFaultsTest {
    private static final int NSID = 1, BLOCK = 512, READ = 0x02;
    private static final int UNRECOVERED_READ_ERROR = 0x81;
    private static final Duration SHORT = Duration.ofMillis(300), WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    ServedNvme served;
    NvmeDriver driver;

    private void open(Duration ioTimeout) throws Exception {
        open(ioTimeout, WAIT);
    }

    private void open(Duration ioTimeout, Duration adminTimeout) throws Exception {
        served = new ServedNvme(dir);
        driver = served.open(NvmeDriver.Options.defaults().withTimeouts(ioTimeout, adminTimeout));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
    }

    private DmaRegion written(long lba, int blocks, int seed) throws Exception {
        return NvmeRecoveryTest.written(driver, lba, blocks, seed);
    }

    private void assertReadsBack(long lba, DmaRegion expected) throws Exception {
        NvmeRecoveryTest.assertReadsBack(driver, lba, expected);
    }

    @Test
    void aMediaErrorFailsExactlyTheReadsOfItsRange() throws Exception {
        open(WAIT);
        DmaRegion before = written(92, 8, 1), inside = written(100, 8, 2), after = written(108, 8, 3);
        served.controller.faults().add(NvmeFaults.when(READ).lbas(100, 107)
                .complete(NvmeException.SCT_MEDIA << 8 | UNRECOVERED_READ_ERROR, true));

        assertReadsBack(92, before);
        assertReadsBack(108, after);
        DmaRegion read = driver.allocateBuffer(inside.segment().byteSize());
        for (long lba : new long[] {100, 104, 107}) {
            assertThatThrownBy(() -> driver.ioQueue().read(NSID, lba, 1, read)).isInstanceOfSatisfying(NvmeException.class,
                    e -> {
                        assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_MEDIA);
                        assertThat(e.statusCode()).isEqualTo(UNRECOVERED_READ_ERROR);
                        assertThat(e.doNotRetry()).isTrue();
                    });
        }
        served.controller.faults().clear();
        assertReadsBack(100, inside);
        assertThat(served.controller.faults().log()).hasSize(3);
    }

    @Test
    void aCompletionDelayedWithinTheTimeoutIsJustLate() throws Exception {
        open(WAIT);
        DmaRegion data = written(0, 8, 4);
        served.controller.faults().add(NvmeFaults.when(READ).times(1).delayCompletion(Duration.ofMillis(100)));
        assertReadsBack(0, data);
        assertThat(served.controller.faults().log()).hasSize(1);
        assertThat(driver.resets().generation()).isZero();
    }

    @Test
    void readOnlyMediaFailsWritesReadsOnAndWarns() throws Exception {
        open(WAIT);
        DmaRegion data = written(16, 8, 6);
        served.controller.faults().readOnly();
        assertThatThrownBy(() -> written(16, 8, 7)).isInstanceOfSatisfying(NvmeException.class, e -> {
            assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_COMMAND_SPECIFIC);
            assertThat(e.statusCode()).isEqualTo(0x82);
            assertThat(e.doNotRetry()).isTrue();
        });
        assertReadsBack(16, data);
        assertThat(driver.smartLog().criticalWarning() & 0x08).as("read-only warning").isEqualTo(0x08);
        assertThat(driver.awaitEvents(WAIT)).singleElement().satisfies(event -> {
            assertThat(event.type()).isEqualTo(AsyncEvent.SMART_HEALTH);
            assertThat(event.logPage()).isEqualTo(0x02);
        });
    }

    @Test
    void controllerFatalStatusMakesTheDriverResetAndCarryOn() throws Exception {
        open(SHORT);
        DmaRegion data = written(40, 8, 5);
        served.controller.faults().add(NvmeFaults.when(READ).times(1).controllerFatal());
        DmaRegion read = driver.allocateBuffer(8 * BLOCK);
        assertThatThrownBy(() -> driver.ioQueue().read(NSID, 40, 8, read)).isInstanceOfSatisfying(NvmeException.class,
                e -> assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_PATH));
        assertThat(driver.resets().generation()).as("resets").isEqualTo(1);
        assertThat(served.controller.status() & 3).as("CSTS: ready, no fatal status").isEqualTo(1);
        assertReadsBack(40, data);
    }

    @Test
    void anNvmSubsystemResetMakesTheDriverResetAtTheTimeoutAndCarryOn() throws Exception {
        open(SHORT, Duration.ofSeconds(1));   // the driver aborts first: the Abort, on a queue gone, times out
        DmaRegion data = written(48, 8, 8);
        served.controller.faults().add(FaultRule.on("nssr", new FaultMatch.Now(), new NvmeFaultAction.SubsystemReset()));
        assertThat(served.controller.status() & CSTS_NSSRO).as("NSSRO").isEqualTo(CSTS_NSSRO);
        DmaRegion read = driver.allocateBuffer(8 * BLOCK);
        assertThatThrownBy(() -> driver.ioQueue().read(NSID, 48, 8, read)).isInstanceOfSatisfying(NvmeException.class,
                e -> assertThat(e.statusCodeType()).isEqualTo(NvmeException.SCT_PATH));
        assertThat(driver.resets().generation()).as("resets").isEqualTo(1);
        assertThat(served.controller.status() & CSTS_RDY).as("ready again").isEqualTo(CSTS_RDY);
        assertReadsBack(48, data);
    }
}
