package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultRule;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link NvmeFaults} over a real vfio-user socket: a media error on an LBA range fails exactly the
 * commands that touch it; a delayed completion comes after those of later commands; every n-th, a
 * count and a seeded probability decide which matches fire (the same seed, the same firings); CFS leaves the command uncompleted until a reset; firings are
 * logged. Commands never completed ({@link CommandDrops}): withheld (no completion) while the others
 * run; an Abort completes a withheld command with Command Abort Requested before its own completion
 * reports it aborted; refused Aborts report "not aborted", unanswered ones never complete; a reset
 * forgets the withheld commands. "No completion" is checked by the next command's completion being
 * the next entry, without waiting for time.
 */
class NvmeFaultsTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    NvmeController nvme;
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue admin;
    UserspaceNvmeDriver.Queue io;
    long data;

    @BeforeEach
    void setUp() throws Exception {
        nvme = NvmeController.builder().namespace(new NullStore(1 << 20)).build();
        d = UserspaceNvmeDriver.serve(served, nvme, true, UserspaceNvmeDriver.MEMORY_IOVA);
        admin = d.enable(32);
        assertStatus(admin.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_NUMBER_OF_QUEUES);
            e.set(U32, SQE_CDW11, 0);
        }), SC_SUCCESS);
        io = d.createIoQueue(1, 16);
        data = d.alloc(4096);
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
}
