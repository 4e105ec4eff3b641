package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.ControllerRegisters.PAGE_SIZE;
import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.server.DmaView;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;

/**
 * The admin command set (§5) as the admin queue's worker runs it, for one enabled period of the
 * controller (each enable makes a new one): Identify, Get/Set Features, Create/Delete I/O
 * Submission and Completion Queue, Get Log Page, Asynchronous Event Request, Abort and Doorbell
 * Buffer Config. Every field
 * is checked and a bad one completes the command with the status §5 names; unknown opcodes get
 * Invalid Command Opcode, and data pointers other than PRPs Invalid Field (admin commands take no
 * SGLs). Asynchronous Event Requests stay outstanding until an event completes them
 * ({@link AsyncEvents}; a Set Features that puts a temperature threshold at or past the composite
 * temperature raises one) or a controller reset drops them. Abort answers "not aborted" — commands
 * run to completion as soon as they are fetched — except for a command a test had dropped
 * ({@link CommandDrops}), which it completes with Command Abort Requested; a test may also have
 * Aborts refused or left unanswered.
 */
final class AdminCommands implements SubmissionQueue.Executor {
    private final NvmeController controller;
    private final MemorySegment page = MemorySegment.ofArray(new long[IDENTIFY_SIZE / Long.BYTES]);
    private final PrpWalker prps = new PrpWalker(new DataRanges(PrpWalker.rangesFor(IDENTIFY_SIZE)));

    /** The command set of a controller being enabled: events from before are forgotten, as a reset aborted their requests. */
    AdminCommands(NvmeController controller) {
        this.controller = controller;
        controller.events.reset();
        controller.faults.commandDrops().forget();
    }

    @Override
    public boolean execute(SubmissionQueue queue, Command c, DmaView dma) {
        if (c.psdt() != PSDT_PRP) {
            c.fail(SC_INVALID_FIELD);
            return true;
        }
        switch (c.opcode()) {
            case ADMIN_IDENTIFY -> identify(c, dma);
            case ADMIN_GET_FEATURES -> controller.features.get(c);
            case ADMIN_SET_FEATURES -> setFeatures(c);
            case ADMIN_CREATE_CQ -> createCompletionQueue(c);
            case ADMIN_CREATE_SQ -> createSubmissionQueue(c);
            case ADMIN_DELETE_SQ -> deleteSubmissionQueue(c);
            case ADMIN_DELETE_CQ -> deleteCompletionQueue(c);
            case ADMIN_GET_LOG_PAGE -> getLogPage(c, dma);
            case ADMIN_ABORT -> {
                return abort(c, dma);
            }
            case ADMIN_DOORBELL_BUFFER_CONFIG -> doorbellBufferConfig(queue, c, dma);
            case ADMIN_ASYNC_EVENT_REQUEST -> {
                return controller.events.request(queue, c);
            }
            default -> c.fail(SC_INVALID_OPCODE);
        }
        return true;
    }

    /** Abort (§5.1): CDW10 holds the SQ id (15:0) and the command id (31:16); result bit 0 set: not aborted. */
    private boolean abort(Command c, DmaView dma) {
        CommandDrops drops = controller.faults.commandDrops();
        if (drops.leavesAbortsUnanswered()) {
            return false;   // outstanding until a reset
        }
        int cdw10 = c.cdw(10);
        SubmissionQueue target = controller.submissionQueue(cdw10 & 0xffff);
        c.result = target != null && drops.abort(target, cdw10 >>> 16, dma) ? 0 : 1;
        return true;
    }

    private void identify(Command c, DmaView dma) {
        int status = controller.identify.fill(page, c.cdw(10) & 0xff, c.nsid());
        if (status == SC_SUCCESS) {
            status = toHost(c, dma, page);
        }
        if (status != SC_SUCCESS) {
            c.fail(status);
        }
    }

    /** Set Features; a temperature threshold newly at or past the composite temperature is a SMART / Health event. */
    private void setFeatures(Command c) {
        Features features = controller.features;
        boolean warnedBefore = controller.logs.temperatureWarning(features);
        features.set(c, controller.hasIoQueues());
        if (!c.failed() && !warnedBefore && controller.logs.temperatureWarning(features)) {
            controller.events.post(AE_TYPE_SMART, AE_SMART_TEMPERATURE, LOG_SMART);
        }
    }

    private void getLogPage(Command c, DmaView dma) {
        int cdw10 = c.cdw(10);
        int lid = cdw10 & 0xff;
        long dwords = ((long) (c.cdw(11) & 0xffff) << 16 | cdw10 >>> 16) + 1;
        long offset = Integer.toUnsignedLong(c.cdw(12)) | (long) c.cdw(13) << 32;
        int size = LogPages.size(lid);
        if (size < 0) {
            c.fail(SC_INVALID_LOG_PAGE);
            return;
        }
        int nsid = c.nsid();
        if (lid == LOG_SMART && nsid != 0 && nsid != BROADCAST_NSID) {   // LPA bit 0 clear: no per-namespace SMART
            c.fail(SC_INVALID_FIELD);
            return;
        }
        if ((offset & 3) != 0 || offset < 0 || offset >= size) {
            c.fail(SC_INVALID_FIELD);
            return;
        }
        int length = (int) Math.min(dwords * 4, size - offset);
        boolean acknowledged = (cdw10 & LOG_RAE) == 0;
        controller.logs.fill(page, lid, controller.features, acknowledged);
        int status = toHost(c, dma, page.asSlice(offset, length));
        if (status != SC_SUCCESS) {
            c.fail(status);
        } else if (acknowledged) {
            controller.events.acknowledge(lid);
        }
    }

    private int toHost(Command c, DmaView dma, MemorySegment data) {
        int status = prps.walk(dma, c.prp1(), c.prp2(), (int) data.byteSize());
        return status != SC_SUCCESS ? status : prps.copy(dma, 0, data, true);
    }

    /** PRP1: the shadow doorbell buffer, PRP2: the EventIdx buffer; one page each, distinct, page-aligned. */
    private void doorbellBufferConfig(SubmissionQueue adminQueue, Command c, DmaView dma) {
        long doorbells = c.prp1(), eventIdx = c.prp2();
        if ((doorbells & (PAGE_SIZE - 1)) != 0 || (eventIdx & (PAGE_SIZE - 1)) != 0 || doorbells == eventIdx) {
            c.fail(SC_INVALID_FIELD);
            return;
        }
        try {
            controller.configureShadowDoorbells(adminQueue, doorbells, eventIdx, dma);
        } catch (VfioException e) {
            c.fail(SC_DATA_TRANSFER_ERROR);   // the shadow buffer is not in host memory
        }
    }

    private void createCompletionQueue(Command c) {
        int cdw10 = c.cdw(10), cdw11 = c.cdw(11);
        int qid = cdw10 & 0xffff, entries = (cdw10 >>> 16) + 1, vector = cdw11 >>> 16;
        boolean contiguous = (cdw11 & QUEUE_PHYSICALLY_CONTIGUOUS) != 0;
        boolean interrupts = (cdw11 & CQ_INTERRUPTS_ENABLED) != 0;
        int status;
        if (qid == 0 || qid > controller.features.completionQueues || controller.completionQueue(qid) != null) {
            status = SC_INVALID_QUEUE_ID;
        } else if (controller.completionEntryShift() != CQES || entries < 2 || entries > controller.maxQueueEntries()) {
            status = SC_INVALID_QUEUE_SIZE;
        } else if (!contiguous) {
            status = SC_INVALID_FIELD;            // CAP.CQR: queues must be physically contiguous
        } else if ((c.prp1() & (PAGE_SIZE - 1)) != 0) {
            status = SC_PRP_OFFSET_INVALID;
        } else if (interrupts && (vector >= NvmeController.VECTORS || (vector != 0 && !controller.msixEnabled()))) {
            status = SC_INVALID_INTERRUPT_VECTOR;
        } else {
            controller.addCompletionQueue(new CompletionQueue(qid, c.prp1(), entries, interrupts, vector));
            return;
        }
        c.fail(status);
    }

    private void createSubmissionQueue(Command c) {
        int cdw10 = c.cdw(10), cdw11 = c.cdw(11);
        int qid = cdw10 & 0xffff, entries = (cdw10 >>> 16) + 1, cqid = cdw11 >>> 16;
        boolean contiguous = (cdw11 & QUEUE_PHYSICALLY_CONTIGUOUS) != 0;
        CompletionQueue cq = cqid == 0 ? null : controller.completionQueue(cqid);
        int status;
        if (qid == 0 || qid > controller.features.submissionQueues || controller.submissionQueue(qid) != null) {
            status = SC_INVALID_QUEUE_ID;
        } else if (cq == null) {
            status = SC_CQ_INVALID;
        } else if (controller.submissionEntryShift() != SQES || entries < 2 || entries > controller.maxQueueEntries()) {
            status = SC_INVALID_QUEUE_SIZE;
        } else if (!contiguous) {
            status = SC_INVALID_FIELD;
        } else if ((c.prp1() & (PAGE_SIZE - 1)) != 0) {
            status = SC_PRP_OFFSET_INVALID;
        } else {
            controller.addSubmissionQueue(qid, c.prp1(), entries, cq);
            return;
        }
        c.fail(status);
    }

    private void deleteSubmissionQueue(Command c) {
        int qid = c.cdw(10) & 0xffff;
        SubmissionQueue sq = qid == 0 ? null : controller.submissionQueue(qid);
        if (sq == null) {
            c.fail(SC_INVALID_QUEUE_ID);
            return;
        }
        controller.removeSubmissionQueue(sq);
    }

    private void deleteCompletionQueue(Command c) {
        int qid = c.cdw(10) & 0xffff;
        CompletionQueue cq = qid == 0 ? null : controller.completionQueue(qid);
        if (cq == null) {
            c.fail(SC_INVALID_QUEUE_ID);
        } else if (cq.inUse()) {
            c.fail(SC_INVALID_QUEUE_DELETION);
        } else {
            controller.removeCompletionQueue(cq);
        }
    }
}
