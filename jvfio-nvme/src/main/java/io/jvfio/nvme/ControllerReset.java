package io.jvfio.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.io.IOException;

/**
 * The controller resets of an {@link NvmeDriver} and what leads to them, as Linux's nvme_timeout
 * and nvme_reset_work: the Abort of an I/O command past its timeout, a reset when the command
 * outlives its Abort or an admin command its timeout, and the reset itself — CC.EN=0 and
 * CSTS.RDY=0, then the driver's {@link NvmeDriver#reinitialize}. Resets are counted in a
 * generation that each I/O queue compares with its own ({@link QueueRecovery}); it moves only once
 * the controller is disabled, so a queue's thread that sees it may restart its rings. A reset
 * that fails leaves the driver unusable ({@link #failure}). Resets run under the driver's admin lock.
 */
final class ControllerReset {
    private static final System.Logger LOG = System.getLogger(ControllerReset.class.getName());

    private final NvmeDriver driver;
    private final Object adminLock;
    private volatile int generation;
    /** Why a reset failed, or null. */
    private volatile IOException failure;
    /** Once the driver is up: an admin timeout from then on resets the controller. Under the admin lock. */
    private boolean armed;
    private boolean resetting;

    ControllerReset(NvmeDriver driver, Object adminLock) {
        this.driver = driver;
        this.adminLock = adminLock;
    }

    /** The number of resets so far. */
    int generation() {
        return generation;
    }

    IOException failure() {
        return failure;
    }

    /** The driver is up: from now on an admin command past its timeout resets the controller. */
    void arm() {
        armed = true;
    }

    /** The driver closes: admin timeouts no longer reset the controller. */
    void disarm() {
        armed = false;
    }

    /**
     * Abort (§5.1) of command {@code cid} on submission queue {@code sqid}, which timed out. Its
     * answer does not matter (the command completes, or is taken by a reset after another
     * timeout); an Abort that itself times out has reset the controller already.
     */
    void abort(int sqid, int cid) throws IOException {
        LOG.log(System.Logger.Level.WARNING, "command {0} on queue {1} timed out: aborting it", cid, sqid);
        try {
            driver.adminCommand("Abort", ADMIN_ABORT, 0, 0, cid << 16 | sqid, 0);
        } catch (NvmeException e) {   // e.g. Abort Command Limit Exceeded
            LOG.log(System.Logger.Level.WARNING, "the Abort of command {0} on queue {1}: {2}", cid, sqid, e.getMessage());
        } catch (AdminQueue.CommandTimeout e) {
            driver.checkOpen();   // throws when the reset that followed failed
        }
    }

    /** Command {@code cid} on queue {@code sqid} outlived its Abort, or the controller is fatal: a reset, unless one came since {@code seen}. */
    void afterTimeout(int sqid, int cid, int seen) throws IOException {
        synchronized (adminLock) {
            driver.checkOpen();
            if (generation == seen) {
                LOG.log(System.Logger.Level.WARNING, "command {0} on queue {1} timed out after its Abort or on a fatal "
                        + "controller: resetting the controller", cid, sqid);
                run();
            }
        }
    }

    /** Admin command {@code timedOut} had no completion in time: a reset, once the driver is up and unless one runs. */
    void afterAdminTimeout(AdminQueue.CommandTimeout timedOut) {
        if (armed && !resetting) {
            LOG.log(System.Logger.Level.WARNING, "{0}: resetting the controller", timedOut.getCause().getMessage());
            try {
                run();
            } catch (IOException failed) {
                timedOut.addSuppressed(failed);
            }
        }
    }

    /** Resets the controller now (the caller holds the admin lock); on failure the driver is unusable from then on. */
    void run() throws IOException {
        resetting = true;
        try {
            driver.disableController();
            generation++;   // only once the controller no longer reaches the queues: their threads restart them now
            driver.reinitialize();
        } catch (IOException | RuntimeException e) {
            failure = new IOException("the controller reset failed: " + e.getMessage(), e);
            throw failure;
        } finally {
            resetting = false;
        }
    }
}
