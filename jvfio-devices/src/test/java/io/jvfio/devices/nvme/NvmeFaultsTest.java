package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.nvme.NvmeFaultAction.CompletionField;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link NvmeFaults} over a real vfio-user socket, at the queue level: a media error on an LBA range
 * fails exactly the commands that touch it; a delayed completion comes after those of later
 * commands; every n-th, a count and a seeded probability decide which matches fire (the same seed,
 * the same firings); CFS leaves the command uncompleted until a reset. Commands never completed
 * ({@link CommandDrops}): withheld (no completion) while the others run; an Abort completes a
 * withheld command with Command Abort Requested before its own completion reports it aborted;
 * refused Aborts report "not aborted", unanswered ones never complete; a reset forgets the withheld
 * commands. Corrupt completion fields, each seen as spoilt with the command run; an NVM subsystem
 * reset by the NSSR register and by a Now rule (the controller resets, CSTS.NSSRO until cleared); a
 * thermal event and its end; critical warnings; read-only media and CFS as Now rules; a rule read
 * from a plan's words; NVMe firings in the registry's log beside the core's. "No completion" is
 * checked by the next command's completion being the next entry, without waiting for time.
 */
class NvmeFaultsTest {
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

    /** Enables the controller with an admin queue and I/O queue pair 1. */
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

    /** Reads or writes {@code blocks} 512-byte blocks at {@code lba} of namespace 1 and awaits the completion. */
    private UserspaceNvmeDriver.Completion transfer(int opcode, long lba, int blocks) throws Exception {
        return io.submit(opcode, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(data));
            e.set(U64, SQE_CDW10, lba);
            e.set(U32, SQE_CDW12, blocks - 1);
        });
    }

    private UserspaceNvmeDriver.Completion read(long lba, int blocks) throws Exception {
        return transfer(IO_READ, lba, blocks);
    }

    /** Reads block 0 {@code n} times; true where the read failed. */
    private List<Boolean> failures(int n) throws Exception {
        List<Boolean> failed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            failed.add(read(0, 1).status() != SC_SUCCESS);
        }
        return failed;
    }

    /** Puts a one-block Read in the I/O queue and rings; returns its CID. */
    private int readLater() throws Exception {
        int cid = io.put(IO_READ, 1, e -> e.set(U64, SQE_PRP1, d.iova(data)));
        io.ring();
        return cid;
    }

    private UserspaceNvmeDriver.Completion abort(int cid) throws Exception {
        return admin.submit(ADMIN_ABORT, 0, e -> e.set(U32, SQE_CDW10, cid << 16 | io.id));
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
    void aMediaErrorOnAnLbaRangeFailsExactlyTheReadsThatTouchIt() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).queue(io.id).lbas(100, 107).complete(SC_UNRECOVERED_READ_ERROR, true));

        assertStatus(read(96, 4), SC_SUCCESS);                     // 96..99
        UserspaceNvmeDriver.Completion failed = read(100, 1);
        assertThat(failed.status()).isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertThat(failed.dnr()).isTrue();
        assertThat(read(99, 2).status()).as("overlapping at its start").isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertThat(read(107, 8).status()).as("overlapping at its end").isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertStatus(read(108, 8), SC_SUCCESS);
        assertStatus(transfer(IO_WRITE, 100, 8), SC_SUCCESS);      // another opcode
        assertThat(nvme.faults().log()).hasSize(3).allSatisfy(firing -> {
            assertThat(firing.matched()).startsWith("nvme sq %d ".formatted(io.id)).contains("opcode 0x02");
            assertThat(firing.action()).isEqualTo(new NvmeFaultAction.Complete(SC_UNRECOVERED_READ_ERROR, true));
        });
        assertThat(nvme.faults().log()).extracting(FaultFiring::matched)
                .allSatisfy(matched -> assertThat(matched).containsAnyOf("lba 100-100", "lba 99-100", "lba 107-114"));
        assertThat(nvme.faults().rules()).as("no count: still in force").hasSize(1);
    }

    @Test
    void aRetryableStatusCarriesNoDoNotRetryAndANamespaceRuleSparesOthers() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_WRITE).namespace(1).complete(SC_WRITE_FAULT, false));
        nvme.faults().add(NvmeFaults.when(IO_READ).namespace(2).complete(SC_UNRECOVERED_READ_ERROR, true));
        UserspaceNvmeDriver.Completion write = transfer(IO_WRITE, 0, 1);
        assertThat(write.status()).isEqualTo(SC_WRITE_FAULT);
        assertThat(write.dnr()).isFalse();
        assertStatus(read(0, 1), SC_SUCCESS);
    }

    @Test
    void everyNthMatchFiresUntilTheCountIsSpent() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).every(2).times(2).complete(SC_DATA_TRANSFER_ERROR, false));
        assertThat(failures(7)).containsExactly(false, true, false, true, false, false, false);
        assertThat(nvme.faults().rules()).as("spent").isEmpty();
        List<FaultFiring> firings = nvme.faults().log();
        assertThat(firings).hasSize(2);
        assertThat(firings.get(0).time()).isBeforeOrEqualTo(firings.get(1).time());
    }

    @Test
    void theSameSeedFiresOnTheSameCommands() throws Exception {
        FaultRule rule = NvmeFaults.when(IO_READ).probability(0.5, 42).complete(SC_INTERNAL, false);
        nvme.faults().add(rule);
        List<Boolean> first = failures(24);
        nvme.faults().clear();
        assertThat(failures(4)).as("cleared").containsOnly(false);
        nvme.faults().add(rule);
        assertThat(failures(24)).isEqualTo(first);
        assertThat(first).contains(true, false);
    }

    @Test
    void aDelayedCompletionArrivesAfterTheCommandsBehindIt() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).lbas(8, 8).times(1).delayCompletion(Duration.ofSeconds(2)));
        int delayed = io.put(IO_READ, 1, e -> {
            e.set(U64, SQE_PRP1, d.iova(data));
            e.set(U64, SQE_CDW10, 8);
        });
        io.ring();
        UserspaceNvmeDriver.Completion behind = read(0, 1);   // submit checks that this is its own completion
        assertStatus(behind, SC_SUCCESS);
        UserspaceNvmeDriver.Completion late = io.poll(WAIT);
        assertThat(late).as("the delayed completion").isNotNull();
        assertThat(late.cid()).isEqualTo(delayed);
        assertStatus(late, SC_SUCCESS);
    }

    @Test
    void controllerFatalStatusLeavesTheCommandUncompletedUntilAReset() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).times(1).controllerFatal());
        int lost = readLater();
        while ((nvme.status() & CSTS_CFS) == 0) {
            Thread.onSpinWait();   // until the controller fetched it
        }
        UserspaceNvmeDriver.Completion next = read(0, 1);   // the queue still runs; the lost read never completes
        assertThat(next.cid()).isNotEqualTo(lost);
        assertThat(nvme.faults().commandDrops().withheldCount()).isEqualTo(1);

        d.enable(32);
        assertThat(nvme.status() & (CSTS_CFS | CSTS_RDY)).as("ready, no fatal status").isEqualTo(CSTS_RDY);
        assertThat(nvme.faults().commandDrops().withheldCount()).isZero();
    }

    @Test
    void noRuleRunsEveryCommand() throws Exception {
        assertThat(failures(4)).containsOnly(false);
        assertThat(nvme.faults().log()).isEmpty();
    }

    @Test
    void withholdsTheCommandsAskedForUntilAnAbortCompletesThem() throws Exception {
        nvme.faults().commandDrops().drop(io.id, IO_READ, 2);
        int first = readLater(), second = readLater(), third = readLater();
        UserspaceNvmeDriver.Completion ran = next(io);
        assertThat(ran.cid()).as("the third read runs").isEqualTo(third);
        assertStatus(ran, SC_SUCCESS);
        assertThat(nvme.faults().commandDrops().withheldCount()).isEqualTo(2);

        UserspaceNvmeDriver.Completion abort = abort(second);
        assertStatus(abort, SC_SUCCESS);
        assertThat(abort.result() & 1).as("aborted").isZero();
        UserspaceNvmeDriver.Completion aborted = next(io);
        assertThat(aborted.cid()).isEqualTo(second);
        assertThat(aborted.status()).isEqualTo(SC_ABORT_REQUESTED);
        assertThat(aborted.dnr()).isFalse();

        assertThat(abort(third).result() & 1).as("a command that completed is not aborted").isEqualTo(1);
        assertThat(nvme.faults().commandDrops().withheldCount()).isEqualTo(1);
        assertThat(abort(first).result() & 1).isZero();
        assertThat(next(io).cid()).isEqualTo(first);
        assertThat(nvme.faults().commandDrops().withheldCount()).isZero();
    }

    @Test
    void refusedAbortsLeaveTheCommandWithheldAndUnansweredOnesNeverComplete() throws Exception {
        nvme.faults().commandDrops().drop(io.id, IO_READ, 1);
        int dropped = readLater();
        while (nvme.faults().commandDrops().withheldCount() == 0) {
            Thread.onSpinWait();   // until the controller fetched it
        }

        nvme.faults().commandDrops().aborts(CommandDrops.Aborts.REFUSED);
        assertThat(abort(dropped).result() & 1).as("not aborted").isEqualTo(1);
        assertThat(nvme.faults().commandDrops().withheldCount()).isEqualTo(1);

        nvme.faults().commandDrops().aborts(CommandDrops.Aborts.UNANSWERED);
        int unanswered = admin.put(ADMIN_ABORT, 0, e -> e.set(U32, SQE_CDW10, dropped << 16 | io.id));
        admin.ring();
        UserspaceNvmeDriver.Completion after = admin.submit(ADMIN_GET_FEATURES, 0,
                e -> e.set(U32, SQE_CDW10, FEATURE_ARBITRATION));   // submit checks it is this command's completion
        assertStatus(after, SC_SUCCESS);
        assertThat(after.cid()).isNotEqualTo(unanswered);

        d.enable(32);   // a reset: the withheld read and the Abort are gone
        assertThat(nvme.faults().commandDrops().withheldCount()).isZero();
    }

    @Test
    void aCorruptCommandIdNamesACommandTheHostDidNotIssue() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).queue(io.id).times(1).corruptCompletion(CompletionField.COMMAND_ID));
        int cid = readLater();
        UserspaceNvmeDriver.Completion c = next(io);
        assertThat(c.cid()).isEqualTo(cid ^ 0x8000);
        assertStatus(c, SC_SUCCESS);
        assertThat(transfer(IO_READ, 0, 1).sqHead()).as("the next completion is whole").isEqualTo(io.tail);
    }

    @Test
    void aCorruptSqHeadIsBeyondTheQueueAndACorruptSqIdNamesAnotherQueue() throws Exception {
        nvme.faults().add(NvmeFaults.when(IO_READ).times(1).corruptCompletion(CompletionField.SQ_HEAD));
        nvme.faults().add(NvmeFaults.when(IO_WRITE).times(1).corruptCompletion(CompletionField.SQ_ID));
        UserspaceNvmeDriver.Completion read = transfer(IO_READ, 0, 1);
        assertThat(read.sqHead()).isEqualTo(QUEUE_ENTRIES);
        assertThat(read.sqId()).isEqualTo(io.id);
        UserspaceNvmeDriver.Completion write = transfer(IO_WRITE, 0, 1);
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
        UserspaceNvmeDriver.Completion next = transfer(IO_READ, 0, 1);   // submit checks it is this command's completion
        assertThat(next.cid()).isNotEqualTo(hidden);
        assertThat(nvme.faults().log()).singleElement()
                .satisfies(firing -> assertThat(firing.matched()).contains("cid " + hidden));
    }

    @Test
    void subsystemResetByTheNssrRegisterResetsTheControllerAndSetsNssro() throws Exception {
        assertThat(d.cap() >>> CAP_NSSRS_SHIFT & 1).as("CAP.NSSRS").isEqualTo(1);
        d.client.write32(UserspaceNvmeDriver.BAR, REG_NSSR, 0x1234);
        assertStatus(transfer(IO_READ, 0, 1), SC_SUCCESS);   // only "NVMe" resets

        d.client.write32(UserspaceNvmeDriver.BAR, REG_NSSR, NSSR_RESET);
        d.awaitCsts(CSTS_RDY | CSTS_NSSRO, CSTS_NSSRO);
        assertThat(d.client.read32(UserspaceNvmeDriver.BAR, REG_CC)).as("CC").isZero();
        assertThat(d.client.read32(UserspaceNvmeDriver.BAR, REG_NSSR)).as("NSSR reads 0").isZero();

        enable();
        assertThat(d.csts() & (CSTS_RDY | CSTS_NSSRO)).as("NSSRO stays until cleared").isEqualTo(CSTS_RDY | CSTS_NSSRO);
        d.client.write32(UserspaceNvmeDriver.BAR, REG_CSTS, CSTS_NSSRO);
        assertThat(d.csts()).isEqualTo(CSTS_RDY);
        assertStatus(transfer(IO_READ, 0, 1), SC_SUCCESS);
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
                .isEqualTo(tuple("nssr", "now"));

        enable();
        assertThat(nvme.faults().commandDrops().withheldCount()).as("forgotten with the queues").isZero();
        assertStatus(transfer(IO_READ, 0, 1), SC_SUCCESS);
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
        UserspaceNvmeDriver.Completion write = transfer(IO_WRITE, 0, 1);
        assertThat(write.status()).isEqualTo(NvmeFaults.SC_WRITE_TO_READ_ONLY_RANGE);
        assertThat(write.dnr()).isTrue();
        assertStatus(transfer(IO_READ, 0, 1), SC_SUCCESS);
        setFeature(FEATURE_ARBITRATION, 0);   // admin opcode 0x09, Dataset Management's number on I/O queues
        assertThat(criticalWarnings() & SMART_WARNING_READ_ONLY).isEqualTo(SMART_WARNING_READ_ONLY);

        nvme.faults().clear();
        assertStatus(transfer(IO_WRITE, 0, 1), SC_SUCCESS);
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
        assertStatus(transfer(IO_READ, 99, 1), SC_SUCCESS);
        UserspaceNvmeDriver.Completion failed = transfer(IO_READ, 104, 1);
        assertThat(failed.status()).isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertThat(failed.dnr()).isTrue();
        assertStatus(transfer(IO_WRITE, 104, 1), SC_SUCCESS);
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
        assertThat(transfer(IO_READ, 0, 1).status()).isEqualTo(SC_UNRECOVERED_READ_ERROR);
        assertThat(nvme.faults().log()).extracting(FaultFiring::ruleId).containsExactly("slow-csts", "media");
        assertThat(nvme.faults().log().get(0).matched()).isEqualTo("region 0 read 0x1c+4");
        assertThat(nvme.faults().log().get(1).matched()).isEqualTo("nvme sq 1 cid %d opcode 0x02 nsid 1 lba 0-0"
                .formatted(io.nextCid - 1));
        assertThat(nvme.faults().rules()).isEmpty();
    }
}
