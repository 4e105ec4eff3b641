package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.RegionHandler;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * BAR 0 as the host sees it (§3.1): the controller registers below 0x1000 — CAP, VS, INTMS/INTMC,
 * CC, CSTS, NSSR, AQA, ASQ, ACQ — and the doorbells from 0x1000, which go to the {@link QueueRegistry}.
 * The handshakes CC drives live here too:
 * <ul>
 * <li>CC.EN 0→1 (§7.6.1) checks the admin queue registers and CC (CSS, MPS, AMS), sets CSTS.CFS
 *     when they are wrong, else creates the admin queues and sets RDY;
 * <li>CC.EN 1→0 deletes every queue, drops outstanding work, restores the features' defaults and
 *     clears CSTS once the queue workers have stopped;
 * <li>CC.SHN (§7.6.2) flushes every namespace, then reports SHST complete;
 * <li>"NVMe" written to NSSR (CAP.NSSRS is set) is an NVM Subsystem Reset (§7.3.1): the controller
 *     resets as on EN 1→0 with CC cleared, and CSTS.NSSRO is set until the host writes 1 to it.
 * </ul>
 * Registers are read and written under this object's lock, which also orders enables and resets:
 * each bumps a generation, so a teardown or shutdown of an older one does not touch CSTS.
 */
final class ControllerRegisters implements RegionHandler {
    /** Largest queue (0-based MQES + 1): Linux's default I/O queue depth. */
    static final int MAX_QUEUE_ENTRIES = 1024;
    /** CAP.TO in 500 ms units: 15 s, generous for a trapped controller under TCG. */
    static final int READY_TIMEOUT = 30;
    static final long CAP = (MAX_QUEUE_ENTRIES - 1) | 1L << CAP_CQR_SHIFT | (long) READY_TIMEOUT << CAP_TO_SHIFT
            | (long) CAP_CSS_NVM << CAP_CSS_SHIFT | 1L << CAP_NSSRS_SHIFT;
    /** The only memory page size offered: CAP.MPSMIN = MPSMAX = 0. */
    static final int PAGE_SIZE = 1 << MPS_BASE_SHIFT;

    private static final System.Logger LOG = System.getLogger(ControllerRegisters.class.getName());

    private final NvmeController controller;
    private final QueueRegistry queues;
    private final InterruptRouting interrupts;

    private int cc, aqa;
    private volatile int csts;
    private long asq, acq;
    /** Bumped by every enable and reset: a teardown of an older generation does not touch CSTS. */
    private int generation;

    ControllerRegisters(NvmeController controller, QueueRegistry queues, InterruptRouting interrupts) {
        this.controller = controller;
        this.queues = queues;
        this.interrupts = interrupts;
    }

    /** CSTS as the host reads it. */
    int status() {
        return csts;
    }

    @Override
    public void read(long offset, MemorySegment dst) {
        for (int i = 0; i < dst.byteSize(); i++) {
            long at = offset + i;
            int dword = at < DOORBELLS ? readRegister((int) at & ~3) : 0;   // doorbells read as 0
            dst.set(ValueLayout.JAVA_BYTE, i, (byte) (dword >>> 8 * (at & 3)));
        }
    }

    @Override
    public void write(long offset, MemorySegment src) {
        long size = src.byteSize();
        if ((size != 4 && size != 8) || (offset & 3) != 0) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: ignored a {1}-byte register write at 0x{2}", controller.name(), size,
                    Long.toHexString(offset));
            return;   // registers are written as dwords or qwords (§3.1)
        }
        writeDword(offset, src.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        if (size == 8) {
            writeDword(offset + 4, src.get(ValueLayout.JAVA_INT_UNALIGNED, 4));
        }
    }

    private synchronized int readRegister(int offset) {
        return switch (offset) {
            case REG_CAP -> (int) CAP;
            case REG_CAP + 4 -> (int) (CAP >>> 32);
            case REG_VS -> VERSION_1_4;
            case REG_INTMS, REG_INTMC -> interrupts.masks();
            case REG_CC -> cc;
            case REG_CSTS -> csts;
            case REG_AQA -> aqa;
            case REG_ASQ -> (int) asq;
            case REG_ASQ + 4 -> (int) (asq >>> 32);
            case REG_ACQ -> (int) acq;
            case REG_ACQ + 4 -> (int) (acq >>> 32);
            default -> 0;   // NSSR (reads as 0), CMB and PMR registers (none): 0
        };
    }

    private void writeDword(long offset, int value) {
        if (offset >= DOORBELLS) {
            queues.ring((int) ((offset - DOORBELLS) / DOORBELL_STRIDE), value);
            return;
        }
        switch ((int) offset) {
            case REG_INTMS -> interrupts.mask(value);
            case REG_INTMC -> interrupts.unmask(value);
            default -> writeRegister((int) offset, value);
        }
    }

    private synchronized void writeRegister(int offset, int value) {
        switch (offset) {
            case REG_CC -> writeCc(value);
            case REG_CSTS -> csts &= ~(value & CSTS_NSSRO);   // NSSRO is write 1 to clear; the rest read-only
            case REG_NSSR -> {
                if (value == NSSR_RESET) {
                    subsystemReset();
                }
            }
            case REG_AQA -> aqa = value & (AQA_SIZE_MASK | AQA_SIZE_MASK << AQA_ACQS_SHIFT);
            case REG_ASQ -> asq = asq & ~0xffff_ffffL | Integer.toUnsignedLong(value);
            case REG_ASQ + 4 -> asq = asq & 0xffff_ffffL | (long) value << 32;
            case REG_ACQ -> acq = acq & ~0xffff_ffffL | Integer.toUnsignedLong(value);
            case REG_ACQ + 4 -> acq = acq & 0xffff_ffffL | (long) value << 32;
            default -> { }   // read-only or reserved
        }
    }

    synchronized int submissionEntryShift() {
        return cc >>> CC_IOSQES_SHIFT & CC_ES_MASK;
    }

    synchronized int completionEntryShift() {
        return cc >>> CC_IOCQES_SHIFT & CC_ES_MASK;
    }

    // ------------------------------------------------------------------ enable, disable, shutdown

    /** Under the lock. */
    private void writeCc(int value) {
        int old = cc;
        cc = value;
        boolean wasEnabled = (old & CC_EN) != 0, enabled = (value & CC_EN) != 0;
        if (!wasEnabled && enabled) {
            enable();
        } else if (wasEnabled && !enabled) {
            disable();
        }
        int shn = value >>> CC_SHN_SHIFT & CC_SHN_MASK, oldShn = old >>> CC_SHN_SHIFT & CC_SHN_MASK;
        if (shn != 0 && oldShn == 0) {
            shutdownNotification();
        }
    }

    /** EN 0→1 (§7.6.1): the admin queues from AQA/ASQ/ACQ, if they and CC are valid. Under the lock. */
    private void enable() {
        int css = cc >>> CC_CSS_SHIFT & CC_CSS_MASK, mps = cc >>> CC_MPS_SHIFT & CC_MPS_MASK,
                ams = cc >>> CC_AMS_SHIFT & CC_AMS_MASK;
        int sqEntries = (aqa & AQA_SIZE_MASK) + 1, cqEntries = (aqa >>> AQA_ACQS_SHIFT & AQA_SIZE_MASK) + 1;
        String refused = css != CC_CSS_NVM ? "CC.CSS " + css + " is not the NVM command set"
                : mps != 0 ? "CC.MPS " + mps + " is not the 4 KiB page"
                : ams != 0 ? "CC.AMS " + ams + " is not round robin"
                : sqEntries < 2 || cqEntries < 2 ? "AQA 0x%x asks for a one-entry admin queue".formatted(aqa)
                : (asq & (PAGE_SIZE - 1)) != 0 || (acq & (PAGE_SIZE - 1)) != 0
                        ? "ASQ 0x%x / ACQ 0x%x are not page-aligned".formatted(asq, acq)
                : null;
        generation++;
        if (refused != null) {
            LOG.log(System.Logger.Level.WARNING, "{0}: enable refused: {1}", controller.name(), refused);
            csts |= CSTS_CFS;
            return;
        }
        controller.openAdminQueues(asq, sqEntries, acq, cqEntries);
        csts = CSTS_RDY | csts & CSTS_NSSRO;
    }

    /**
     * EN 1→0: every queue goes, outstanding work is dropped, features return to their defaults;
     * CSTS clears (RDY 0; NSSRO stays) once the workers have finished the commands they hold. Under the lock.
     */
    private void disable() {
        List<SubmissionQueue> stopped = tearDown();
        int gen = generation;
        Thread.ofPlatform().daemon().name(controller.name() + "-reset").start(() -> {
            for (SubmissionQueue sq : stopped) {
                sq.awaitStopped();
            }
            synchronized (this) {
                if (generation == gen) {
                    csts &= CSTS_NSSRO;
                }
            }
        });
    }

    /** Every queue killed, the features' defaults, INTx low and unmasked. Under the lock. */
    private List<SubmissionQueue> tearDown() {
        List<SubmissionQueue> stopped = queues.tearDown();
        controller.features.reset();
        interrupts.reset();
        return stopped;
    }

    /** CC.SHN (§7.6.2): every namespace flushed, then SHST complete. Under the lock. */
    private void shutdownNotification() {
        csts = csts & ~CSTS_SHST_MASK | SHST_IN_PROGRESS << CSTS_SHST_SHIFT;
        int gen = generation;
        Thread.ofPlatform().daemon().name(controller.name() + "-shutdown").start(() -> {
            controller.flushNamespaces();
            synchronized (this) {
                if (generation == gen && (cc >>> CC_SHN_SHIFT & CC_SHN_MASK) != 0) {
                    csts = csts & ~CSTS_SHST_MASK | SHST_COMPLETE << CSTS_SHST_SHIFT;
                }
            }
        });
    }

    /**
     * An NVM Subsystem Reset (NSSR written with "NVMe", or a fault): CC clears, an enabled
     * controller resets as on EN 1→0, and CSTS.NSSRO tells the host what happened.
     */
    synchronized void subsystemReset() {
        LOG.log(System.Logger.Level.INFO, "{0}: NVM subsystem reset", controller.name());
        boolean enabled = (cc & CC_EN) != 0;
        cc = 0;
        if (enabled) {
            csts |= CSTS_NSSRO;
            disable();
        } else {
            csts = CSTS_NSSRO;
        }
    }

    /** Controller fatal status: the host notices CSTS.CFS at its next timeout and resets the controller. */
    synchronized void fatal() {
        csts |= CSTS_CFS;
    }

    /** DEVICE_RESET and client disconnect: everything back to power-on state at once. */
    synchronized void reset() {
        tearDown();
        generation++;
        cc = aqa = 0;
        asq = acq = 0;
        csts = 0;
    }

    /** CC, AQA, ASQ, ACQ and CSTS, as a migration carries them. */
    record Saved(int cc, int aqa, long asq, long acq, int csts) {}

    synchronized Saved save() {
        return new Saved(cc, aqa, asq, acq, csts);
    }

    /**
     * A migration's destination: the source's registers; the queues this controller had are
     * killed (the caller restores the source's). Features go back to their defaults (the caller
     * restores those too).
     */
    synchronized void restore(Saved saved) {
        tearDown();
        generation++;
        cc = saved.cc();
        aqa = saved.aqa();
        asq = saved.asq();
        acq = saved.acq();
        csts = saved.csts();
    }

    /** The controller serves no more clients: every queue killed; returns them for their workers to be awaited. */
    synchronized List<SubmissionQueue> shutDown() {
        List<SubmissionQueue> stopped = tearDown();
        generation++;
        return stopped;
    }
}
