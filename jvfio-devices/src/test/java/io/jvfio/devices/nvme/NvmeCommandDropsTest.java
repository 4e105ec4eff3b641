package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.NullStore;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link CommandDrops} over a real vfio-user socket: the commands asked for are withheld (no
 * completion) and the others run; an Abort completes a withheld command with Command Abort
 * Requested before its own completion reports it aborted; refused Aborts report "not aborted",
 * unanswered ones never complete; a reset forgets the withheld commands. "No completion" is
 * checked by the next command's completion being the next entry, without waiting for time.
 */
class NvmeCommandDropsTest {
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

    /** Puts a one-block Read in the I/O queue and rings; returns its CID. */
    private int read() throws Exception {
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
    void withholdsTheCommandsAskedForUntilAnAbortCompletesThem() throws Exception {
        nvme.faults().commandDrops().drop(io.id, IO_READ, 2);
        int first = read(), second = read(), third = read();
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
        int dropped = read();
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
