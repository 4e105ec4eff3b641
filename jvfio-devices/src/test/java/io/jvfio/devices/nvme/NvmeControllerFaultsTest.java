package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static io.jvfio.nvme.spec.Nvme.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.nvme.NvmeFaultAction.CompletionField;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * NVMe's faults on the controller's one registry, over a real vfio-user socket at the queue level:
 * corrupt completion fields (each seen by the host as it is spoilt, the command having run); an NVM
 * subsystem reset by the NSSR register and by a Now rule (the controller resets, CSTS.NSSRO until
 * cleared); a thermal event and its end; critical warnings; read-only media and CFS as Now rules;
 * a rule read from a plan's words; NVMe firings logged beside the core's.
 */
class NvmeControllerFaultsTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int QUEUE_ENTRIES = 16;

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    NvmeController nvme;
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue admin;
    UserspaceNvmeDriver.Queue io;
    long data;
    long page;

    @BeforeEach
    void setUp() throws Exception {
        nvme = NvmeController.builder().namespace(new NullStore(1 << 20)).build();
        d = UserspaceNvmeDriver.serve(served, nvme, true, UserspaceNvmeDriver.MEMORY_IOVA);
        data = d.alloc(4096);
        page = d.alloc(4096);
        enable();
    }

    private void enable() throws Exception {
        admin = d.enable(32);
        setFeature(FEATURE_NUMBER_OF_QUEUES, 0);
        io = d.createIoQueue(1, QUEUE_ENTRIES);
    }

    private void setFeature(int fid, int value) throws Exception {
        assertStatus(admin.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, fid);
            e.set(U32, SQE_CDW11, value);
        }), SC_SUCCESS);
    }

    private UserspaceNvmeDriver.Completion transfer(int opcode, long lba) throws Exception {
        return io.submit(opcode, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(data));
            e.set(U64, SQE_CDW10, lba);
        });
    }

    /** Puts a one-block Read in the I/O queue and rings; returns its CID. */
    private int readLater() throws Exception {
        int cid = io.put(IO_READ, 1, e -> e.set(U64, SQE_PRP1, d.iova(data)));
        io.ring();
        return cid;
    }

    private UserspaceNvmeDriver.Completion next(UserspaceNvmeDriver.Queue queue) throws Exception {
        UserspaceNvmeDriver.Completion c = queue.poll(WAIT);
        assertThat(c).as("a completion").isNotNull();
        return c;
    }

    private void now(String id, FaultAction action) {
        nvme.faults().add(FaultRule.on(id, new FaultMatch.Now(), action));
    }

    /** Reads the SMART log (RAE set: events stay masked) into {@link #page}. */
    private void readSmartLog() throws Exception {
        assertStatus(admin.submit(ADMIN_GET_LOG_PAGE, BROADCAST_NSID, e -> {
            e.set(U64, SQE_PRP1, d.iova(page));
            e.set(U32, SQE_CDW10, 127 << 16 | LOG_RAE | LOG_SMART);
        }), SC_SUCCESS);
    }

    private int criticalWarnings() throws Exception {
        readSmartLog();
        return d.memory.get(ValueLayout.JAVA_BYTE, page + SMART_CRITICAL_WARNING);
    }

    private int temperature() throws Exception {
        readSmartLog();
        return Short.toUnsignedInt(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, page + SMART_TEMPERATURE));
    }

    /** Submits an Asynchronous Event Request; returns its CID (it stays outstanding until an event). */
    private int eventRequest() throws Exception {
        int cid = admin.put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        admin.ring();
        return cid;
    }

    private void assertReported(int cid, int event) throws Exception {
        UserspaceNvmeDriver.Completion c = next(admin);
        assertThat(c.cid()).as("completion of the event request").isEqualTo(cid);
        assertThat(c.result()).as("dword 0").isEqualTo(event);
    }

    @Test
    void aCorruptCommandIdNamesACommandTheHostDidNotIssue() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).queue(io.id).times(1).corruptCompletion(CompletionField.COMMAND_ID));
        int cid = readLater();
        UserspaceNvmeDriver.Completion c = next(io);
        assertThat(c.cid()).isEqualTo(cid ^ 0x8000);
        assertStatus(c, SC_SUCCESS);
        assertThat(transfer(IO_READ, 0).sqHead()).as("the next completion is whole").isEqualTo(io.tail);
    }

    @Test
    void aCorruptSqHeadIsBeyondTheQueueAndACorruptSqIdNamesAnotherQueue() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).times(1).corruptCompletion(CompletionField.SQ_HEAD));
        nvme.faults().add(NvmeFaults.when(IO_WRITE).times(1).corruptCompletion(CompletionField.SQ_ID));
        UserspaceNvmeDriver.Completion read = transfer(IO_READ, 0);
        assertThat(read.sqHead()).isEqualTo(QUEUE_ENTRIES);
        assertThat(read.sqId()).isEqualTo(io.id);
        UserspaceNvmeDriver.Completion write = transfer(IO_WRITE, 0);
        assertThat(write.sqId()).isEqualTo(0);
        assertThat(write.sqHead()).isEqualTo(io.tail);
        assertStatus(write, SC_SUCCESS);
        assertThat(nvme.faults().log()).extracting(FaultFiring::action).containsExactly(
                new NvmeFaultAction.CorruptCompletion(CompletionField.SQ_HEAD),
                new NvmeFaultAction.CorruptCompletion(CompletionField.SQ_ID));
    }

    @Test
    void aStalePhaseHidesTheCompletionAndTheNextOneTakesItsSlot() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).times(1).corruptCompletion(CompletionField.PHASE));
        int hidden = readLater();
        UserspaceNvmeDriver.Completion next = transfer(IO_READ, 0);   // submit checks it is this command's completion
        assertThat(next.cid()).isNotEqualTo(hidden);
        assertThat(nvme.faults().log()).singleElement()
                .satisfies(firing -> assertThat(firing.matched()).contains("cid " + hidden));
    }

    @Test
    void subsystemResetByTheNssrRegisterResetsTheControllerAndSetsNssro() throws Exception {
        assertThat(d.cap() >>> CAP_NSSRS_SHIFT & 1).as("CAP.NSSRS").isEqualTo(1);
        d.client.write32(UserspaceNvmeDriver.BAR, REG_NSSR, 0x1234);
        assertStatus(transfer(IO_READ, 0), SC_SUCCESS);   // only "NVMe" resets

        d.client.write32(UserspaceNvmeDriver.BAR, REG_NSSR, NSSR_RESET);
        d.awaitCsts(CSTS_RDY | CSTS_NSSRO, CSTS_NSSRO);
        assertThat(d.client.read32(UserspaceNvmeDriver.BAR, REG_CC)).as("CC").isZero();
        assertThat(d.client.read32(UserspaceNvmeDriver.BAR, REG_NSSR)).as("NSSR reads 0").isZero();

        enable();
        assertThat(d.csts() & (CSTS_RDY | CSTS_NSSRO)).as("NSSRO stays until cleared").isEqualTo(CSTS_RDY | CSTS_NSSRO);
        d.client.write32(UserspaceNvmeDriver.BAR, REG_CSTS, CSTS_NSSRO);
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
        assertStatus(transfer(IO_READ, 0), SC_SUCCESS);
    }

    @Test
    void subsystemResetAsANowRuleDropsTheQueuesAndIsLogged() throws Exception {
        nvme.faults().commandDrops().drop(io.id, IO_READ, 1);
        readLater();
        while (nvme.faults().commandDrops().withheldCount() == 0) {
            Thread.onSpinWait();   // until the controller fetched it
        }
        now("nssr", new NvmeFaultAction.SubsystemReset());
        d.awaitCsts(CSTS_RDY | CSTS_NSSRO, CSTS_NSSRO);
        assertThat(nvme.faults().log()).extracting(FaultFiring::ruleId, FaultFiring::matched).last()
                .isEqualTo(org.assertj.core.groups.Tuple.tuple("nssr", "now"));

        enable();
        assertThat(nvme.faults().commandDrops().withheldCount()).as("forgotten with the queues").isZero();
        assertStatus(transfer(IO_READ, 0), SC_SUCCESS);
    }

    @Test
    void aThermalEventCrossesTheThresholdReportsItAndGoesBack() throws Exception {
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, SMART_WARNING_TEMPERATURE);
        int request = eventRequest();
        assertThat(temperature()).isEqualTo(LogPages.TEMPERATURE);
        assertThat(criticalWarnings()).isZero();

        now("overheat", new NvmeFaultAction.Thermal(true));
        assertReported(request, AsyncEvents.event(AE_TYPE_SMART, AE_SMART_TEMPERATURE, LOG_SMART));
        assertThat(temperature()).isEqualTo(Features.DEFAULT_OVER_THRESHOLD + NvmeFaults.OVERHEAT_KELVIN);
        assertThat(criticalWarnings()).isEqualTo(SMART_WARNING_TEMPERATURE);

        now("cooled", new NvmeFaultAction.Thermal(false));
        assertThat(temperature()).isEqualTo(LogPages.TEMPERATURE);
        assertThat(criticalWarnings()).isZero();
    }

    @Test
    void criticalWarningBitsAreSetAndReportedWhereEnabled() throws Exception {
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, SMART_WARNING_RELIABILITY);
        int request = eventRequest();
        now("worn", new NvmeFaultAction.CriticalWarning(SMART_WARNING_RELIABILITY | SMART_WARNING_SPARE));
        assertReported(request, AsyncEvents.event(AE_TYPE_SMART, AE_SMART_RELIABILITY, LOG_SMART));
        assertThat(criticalWarnings()).isEqualTo(SMART_WARNING_RELIABILITY | SMART_WARNING_SPARE);
    }

    @Test
    void readOnlyAsANowRuleFailsIoWritesButNotTheAdminOpcodesTheySharesNumbersWith() throws Exception {
        now("worn-out", new NvmeFaultAction.ReadOnly());
        UserspaceNvmeDriver.Completion write = transfer(IO_WRITE, 0);
        assertThat(write.status()).isEqualTo(NvmeFaults.SC_WRITE_TO_READ_ONLY_RANGE);
        assertThat(write.dnr()).isTrue();
        assertStatus(transfer(IO_READ, 0), SC_SUCCESS);
        setFeature(FEATURE_ARBITRATION, 0);   // admin opcode 0x09, Dataset Management's number on I/O queues
        assertThat(criticalWarnings() & SMART_WARNING_READ_ONLY).isEqualTo(SMART_WARNING_READ_ONLY);

        nvme.faults().clear();
        assertStatus(transfer(IO_WRITE, 0), SC_SUCCESS);
    }

    @Test
    void controllerFatalAsANowRuleSetsCfsUntilAReset() throws Exception {
        now("cfs", new NvmeFaultAction.ControllerFatal());
        assertThat(d.csts() & CSTS_CFS).isEqualTo(CSTS_CFS);
        enable();
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
    }

    @Test
    void actionsRefuseTheMatchesTheyDoNotApplyTo() {
        assertThatThrownBy(() -> now("never", new NvmeFaultAction.NeverComplete()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not apply");
        assertThatThrownBy(() -> FaultRule.on("thermal-on-read", NvmeCommand.of(IO_READ), new NvmeFaultAction.Thermal(true)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not apply");
        assertThatThrownBy(() -> NvmeFaults.when(IO_READ).every(2).probability(0.5, 1))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aRuleReadFromAPlansWordsFailsTheReadsOfItsRange() throws Exception {
        MapFaultSpec spec = new MapFaultSpec("media", Map.of("opcode", "read", "lbas", "100-107",
                "status", "unrecovered-read-error", "dnr", true));
        FaultRule rule = FaultRule.on("media", nvme.faultVocabulary().match("nvme-command", spec),
                nvme.faultVocabulary().action("complete", spec));
        nvme.faults().add(rule);
        assertStatus(transfer(IO_READ, 99), SC_SUCCESS);
        UserspaceNvmeDriver.Completion failed = transfer(IO_READ, 104);
        assertThat(failed.status()).isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertThat(failed.dnr()).isTrue();
        assertStatus(transfer(IO_WRITE, 104), SC_SUCCESS);
        assertStatus(admin.submit(ADMIN_GET_LOG_PAGE, BROADCAST_NSID, e -> {   // admin opcode 0x02: not a read
            e.set(U64, SQE_PRP1, d.iova(page));
            e.set(U32, SQE_CDW10, 127 << 16 | LOG_SMART);
        }), SC_SUCCESS);
    }

    @Test
    void theLogShowsNvmeFiringsBesideTheCoresInOrder() throws Exception {
        nvme.faults().add(FaultRule.on("slow-csts",
                new FaultMatch.RegionAccess(NvmeController.BAR_INDEX, REG_CSTS, REG_CSTS + 4, FaultMatch.Direction.READ),
                new FaultAction.Delay(Duration.ZERO)).times(1));
        nvme.faults().add(NvmeFaults.when(IO_READ).id("media").times(1).complete(SC_UNRECOVERED_READ_ERROR, true));
        d.csts();
        assertThat(transfer(IO_READ, 0).status()).isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertThat(nvme.faults().log()).extracting(FaultFiring::ruleId).containsExactly("slow-csts", "media");
        assertThat(nvme.faults().log().get(0).matched()).isEqualTo("region 0 read 0x1c+4");
        assertThat(nvme.faults().log().get(1).matched()).isEqualTo("nvme sq 1 cid %d opcode 0x02 nsid 1 lba 0-0"
                .formatted(io.nextCid - 1));
        assertThat(nvme.faults().rules()).isEmpty();
    }
}
