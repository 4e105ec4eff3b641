package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.devices.nvme.NvmeFaultAction.CompletionField;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultVocabulary;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * NVMe's fault words ({@link NvmeFaultVocabulary}) as the controller's vocabulary offers them:
 * {@code nvme-command} matches with named or numbered opcodes (I/O by default, admin on request),
 * every NVMe action with its fields, errors that name the rule, and words it does not know left to
 * the core's.
 */
class NvmeFaultVocabularyTest {
    private final NvmeController nvme = NvmeController.builder().namespace(new NullStore(1 << 20)).build();
    private final FaultVocabulary words = nvme.faultVocabulary();

    @AfterEach
    void shutDown() {
        nvme.shutdown();
    }

    private static MapFaultSpec spec(Object... fields) {
        java.util.LinkedHashMap<String, Object> map = new java.util.LinkedHashMap<>();
        for (int i = 0; i < fields.length; i += 2) {
            map.put((String) fields[i], fields[i + 1]);
        }
        return new MapFaultSpec("r1", map);
    }

    @Test
    void knowsItsWordsBesideTheCores() {
        assertThat(words.matchKinds()).containsKey("nvme-command");
        assertThat(words.actions()).containsKeys("complete", "never-complete", "delay-completion", "controller-fatal",
                "corrupt-completion", "subsystem-reset", "thermal", "critical-warning", "read-only", "attach-namespace",
                "detach-namespace");
        // NVMe's part leaves the core's words to the core, which now knows them.
        assertThat(NvmeFaultVocabulary.INSTANCE.match("region", spec())).isNull();
        assertThat(NvmeFaultVocabulary.INSTANCE.action("fail", spec())).isNull();
        assertThat(words.match("region", spec("region", "bar0"))).isEqualTo(FaultMatch.RegionAccess.anyOf(0));
        assertThat(words.action("fail", spec())).isEqualTo(new FaultAction.FailAccess(5));
    }

    @Test
    void anNvmeCommandIsOnIoQueuesUnlessAdminOrAQueueIsGiven() {
        assertThat(words.match("nvme-command", spec("opcode", "read", "lbas", "100-107", "namespace", 1)))
                .isEqualTo(new NvmeCommand(IO_READ, NvmeCommand.ANY_IO_QUEUE, 1, 100, 107));
        assertThat(words.match("nvme-command", spec("opcode", "Write_Zeroes", "queue", 3)))
                .isEqualTo(new NvmeCommand(IO_WRITE_ZEROES, 3, 0, 0, Long.MAX_VALUE));
        assertThat(words.match("nvme-command", spec("opcode", "get-log-page", "admin", true)))
                .isEqualTo(new NvmeCommand(ADMIN_GET_LOG_PAGE, 0, 0, 0, Long.MAX_VALUE));
        assertThat(words.match("nvme-command", spec("opcode", "0x7c", "queue", 0)))
                .isEqualTo(new NvmeCommand(ADMIN_DOORBELL_BUFFER_CONFIG, 0, 0, 0, Long.MAX_VALUE));
        assertThat(words.match("nvme-command", spec("lbas", List.of(8, 15))))
                .isEqualTo(new NvmeCommand(NvmeCommand.ANY_OPCODE, NvmeCommand.ANY_IO_QUEUE, 0, 8, 15));
    }

    @Test
    void badMatchFieldsNameTheRule() {
        assertThatThrownBy(() -> words.match("nvme-command", spec("admin", true, "queue", 2)))
                .hasMessageStartingWith("rule r1:").hasMessageContaining("admin queue");
        assertThatThrownBy(() -> words.match("nvme-command", spec("opcode", "get-log-page")))
                .hasMessageStartingWith("rule r1:").hasMessageContaining("opcode");
        assertThatThrownBy(() -> words.match("nvme-command", spec("opcode", 0x100)))
                .hasMessageStartingWith("rule r1:");
        assertThatThrownBy(() -> words.match("nvme-command", spec("lbas", "9-8")))
                .hasMessageStartingWith("rule r1:").hasMessageContaining("LBAs");
    }

    @Test
    void readsEveryAction() {
        assertThat(words.action("complete", spec("status", "unrecovered-read-error", "dnr", true)))
                .isEqualTo(new NvmeFaultAction.Complete(SC_UNRECOVERED_READ_ERROR, true));
        assertThat(words.action("complete", spec("status", 0x280)))
                .isEqualTo(new NvmeFaultAction.Complete(SC_WRITE_FAULT, false));
        assertThat(words.action("never-complete", spec())).isEqualTo(new NvmeFaultAction.NeverComplete());
        assertThat(words.action("delay-completion", spec("delay", "500ms")))
                .isEqualTo(new NvmeFaultAction.DelayCompletion(Duration.ofMillis(500)));
        assertThat(words.action("controller-fatal", spec())).isEqualTo(new NvmeFaultAction.ControllerFatal());
        assertThat(words.action("corrupt-completion", spec("field", "sq-head")))
                .isEqualTo(new NvmeFaultAction.CorruptCompletion(CompletionField.SQ_HEAD));
        assertThat(words.action("corrupt-completion", spec("field", "command_id")))
                .isEqualTo(new NvmeFaultAction.CorruptCompletion(CompletionField.COMMAND_ID));
        assertThat(words.action("subsystem-reset", spec())).isEqualTo(new NvmeFaultAction.SubsystemReset());
        assertThat(words.action("thermal", spec())).isEqualTo(new NvmeFaultAction.Thermal(true));
        assertThat(words.action("thermal", spec("state", "normal"))).isEqualTo(new NvmeFaultAction.Thermal(false));
        assertThat(words.action("critical-warning", spec("warning", "reliability")))
                .isEqualTo(new NvmeFaultAction.CriticalWarning(SMART_WARNING_RELIABILITY));
        assertThat(words.action("critical-warning", spec("warning", 0x9)))
                .isEqualTo(new NvmeFaultAction.CriticalWarning(SMART_WARNING_SPARE | SMART_WARNING_READ_ONLY));
        assertThat(words.action("read-only", spec())).isEqualTo(new NvmeFaultAction.ReadOnly());
    }

    @Test
    void badActionFieldsNameTheRule() {
        assertThatThrownBy(() -> words.action("complete", spec())).hasMessageStartingWith("rule r1:")
                .hasMessageContaining("status");
        assertThatThrownBy(() -> words.action("complete", spec("status", 0x900))).hasMessageStartingWith("rule r1:");
        assertThatThrownBy(() -> words.action("corrupt-completion", spec("field", 7))).hasMessageStartingWith("rule r1:");
        assertThatThrownBy(() -> words.action("critical-warning", spec("warning", 0x40))).hasMessageStartingWith("rule r1:");
        assertThatThrownBy(() -> words.action("delay-completion", spec("delay", "0ms"))).hasMessageStartingWith("rule r1:");
        assertThatThrownBy(() -> words.action("thermal", spec("state", "tepid"))).hasMessageStartingWith("rule r1:");
    }

    @Test
    void statusNamesAreTheSpecificationsCodes() {
        assertThat(NvmeFaultVocabulary.STATUSES).containsEntry("write-fault", (long) SC_WRITE_FAULT)
                .containsEntry("data-transfer-error", (long) SC_DATA_TRANSFER_ERROR)
                .containsEntry("write-to-read-only", 0x182L);
        assertThat(NvmeFaultVocabulary.IO_OPCODES).containsEntry("dsm", (long) IO_DATASET_MANAGEMENT);
        assertThat(Map.copyOf(NvmeFaultVocabulary.ADMIN_OPCODES)).containsEntry("abort", (long) ADMIN_ABORT);
    }
}
