package io.jvfio.nvme.spec;

import static io.jvfio.nvme.spec.Nvme.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The numbers agree with each other the way the specification's layouts do. */
class NvmeLayoutTest {

    @Test
    void holdsNumbersOnly() {
        for (Field field : Nvme.class.getDeclaredFields()) {
            if (field.isSynthetic()) {
                continue;   // a coverage agent's, not ours
            }
            assertThat(field.getType()).as(field.getName()).isEqualTo(int.class);
            assertThat(field.getModifiers() & (Modifier.PUBLIC | Modifier.STATIC | Modifier.FINAL))
                    .as(field.getName()).isEqualTo(Modifier.PUBLIC | Modifier.STATIC | Modifier.FINAL);
        }
        assertThat(Nvme.class.getDeclaredConstructors()).allMatch(c -> Modifier.isPrivate(c.getModifiers()));
        assertThat(Arrays.stream(Nvme.class.getDeclaredMethods()).filter(m -> !m.isSynthetic())).isEmpty();
    }

    @Test
    void queueEntriesAreAsLongAsTheirLog2SizesSay() {
        assertThat(SQE_SIZE).isEqualTo(1 << SQES).isEqualTo(64);
        assertThat(CQE_SIZE).isEqualTo(1 << CQES).isEqualTo(16);
        assertThat(new int[] {SQE_CDW10, SQE_CDW11, SQE_CDW12, SQE_CDW13, SQE_CDW14, SQE_CDW15})
                .containsExactly(40, 44, 48, 52, 56, 60);
        assertThat(SQE_CDW15 + Integer.BYTES).isEqualTo(SQE_SIZE);
        assertThat(CQE_STATUS + Short.BYTES).isEqualTo(CQE_SIZE);
        assertThat(SQE_PRP2 - SQE_PRP1).as("SGL1 spans PRP1 and PRP2").isEqualTo(SGL_DESCRIPTOR_SIZE / 2);
    }

    @Test
    void fieldValuesAndTheirShiftsComposeIntoRegisterBits() {
        assertThat(FLAGS_PSDT_SGL >>> FLAGS_PSDT_SHIFT).isEqualTo(PSDT_SGL);
        assertThat(FLAGS_PSDT_SGL & FLAGS_FUSE_MASK).as("not fused").isZero();
        assertThat(SHN_NORMAL << CC_SHN_SHIFT).isEqualTo(1 << 14);
        assertThat(CC_SHN_MASK << CC_SHN_SHIFT).isEqualTo(0xc000);
        assertThat(SHST_COMPLETE << CSTS_SHST_SHIFT & ~CSTS_SHST_MASK).isZero();
        assertThat((long) CAP_MPS_MASK << CAP_MPSMIN_SHIFT & (long) CAP_MPS_MASK << CAP_MPSMAX_SHIFT).isZero();
        assertThat(1 << MPS_BASE_SHIFT).as("the memory page of MPS 0").isEqualTo(4096);
        assertThat(SGL_LAST_SEGMENT << SGL_TYPE_SHIFT).isEqualTo(0x30);
    }

    @Test
    void identifyStringsEndWhereTheNextFieldStarts() {
        assertThat(ID_CTRL_SN + SN_BYTES).isEqualTo(ID_CTRL_MN);
        assertThat(ID_CTRL_MN + MN_BYTES).isEqualTo(ID_CTRL_FR);
        assertThat(ID_CTRL_FR + FR_BYTES).isEqualTo(ID_CTRL_RAB);
        assertThat(ID_CTRL_SUBNQN + SUBNQN_BYTES).isLessThanOrEqualTo(ID_CTRL_PSD0);
        assertThat(ID_CTRL_PSD0).isLessThan(IDENTIFY_SIZE);
        assertThat(ACTIVE_NAMESPACE_LIST_ENTRIES * Integer.BYTES).isEqualTo(IDENTIFY_SIZE);
    }

    @Test
    void logPagesHoldTheirFields() {
        assertThat(SMART_TEMPERATURE_SENSORS + SMART_SENSOR_COUNT * Short.BYTES).isLessThanOrEqualTo(SMART_LOG_SIZE);
        assertThat(SMART_POWER_ON_HOURS - SMART_POWER_CYCLES).as("16-byte counters").isEqualTo(16);
        assertThat(EFFECTS_IO_OFFSET).as("after 256 admin dwords").isEqualTo(256 * Integer.BYTES);
        assertThat(DSM_RANGE_SLBA + Long.BYTES).isEqualTo(DSM_RANGE_SIZE);
        assertThat(DSM_MAX_RANGES * DSM_RANGE_SIZE).isEqualTo(4096);
    }

    @Test
    void everySmartWarningHasItsEventConfigurationBit() {
        int warnings = SMART_WARNING_SPARE | SMART_WARNING_TEMPERATURE | SMART_WARNING_RELIABILITY
                | SMART_WARNING_READ_ONLY | SMART_WARNING_VOLATILE_BACKUP;
        assertThat(warnings & ~AEC_SMART_WARNINGS).isZero();
        assertThat(AEC_SMART_WARNINGS).as("bits 7:0").isEqualTo(0xff);
        assertThat(AEC_NAMESPACE_ATTRIBUTE & AEC_SMART_WARNINGS).isZero();
    }
}
