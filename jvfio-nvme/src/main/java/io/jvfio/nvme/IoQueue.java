package io.jvfio.nvme;

import static io.jvfio.nvme.NvmeSpec.*;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * One I/O queue pair of an {@link NvmeDriver}, used by one thread ({@link NvmeDriver#ioQueue()}).
 * Asynchronous: {@code submitRead}/{@code submitWrite} put a command in the queue with the caller's
 * tag, {@link #poll} and {@link #await} hand completions to a {@link CompletionListener}. Blocking:
 * {@link #read}, {@link #write} (split at the transfer limit), {@link #flush}, {@link #writeZeroes},
 * {@link #deallocate}, each waiting for its own command; they need no other command in flight.
 *
 * <p>Data lies in DMA memory: a {@link DmaRegion} from {@link NvmeDriver#allocateBuffer}, or any
 * segment with the IOVA the device sees it at (dword-aligned, contiguous in the device's space).
 * The driver describes it with PRPs, a PRP list in the command's preallocated page when it spans
 * more than two pages, or with SGLs when the driver uses them ({@link SglBuilder}); a
 * {@link ScatterList} goes as SGLs, or as PRPs when its pieces meet on page boundaries
 * ({@link ScatterPrps}). Nothing is allocated per command.
 */
public final class IoQueue {
    private static final long PAGE_MASK = PAGE_SIZE - 1;
    private static final int MAX_BLOCKS_PER_COMMAND = 1 << 16;   // NLB is a 0's based 16-bit count

    private final NvmeDriver driver;
    private final QueuePair queue;
    private final long timeoutNanos;
    /** SGL data pointers when the driver uses SGLs, else null (PRPs). */
    private final SglBuilder sgls;
    /** The status and result of the blocking command, set by {@link #blockingDone}. */
    private int blockingStatus, blockingResult;
    private boolean blockingCompleted;
    private final CompletionListener blockingDone = (tag, status, result) -> {
        blockingStatus = status;
        blockingResult = result;
        blockingCompleted = true;
    };

    IoQueue(NvmeDriver driver, QueuePair queue, long timeoutNanos) {
        this.driver = driver;
        this.queue = queue;
        this.timeoutNanos = timeoutNanos;
        this.sgls = driver.usesSgls() ? new SglBuilder(queue, driver.controller().sglsNeedDwordAlignment()) : null;
    }

    QueuePair pair() {
        return queue;
    }

    /** The queue identifier (1 and up). */
    public int id() {
        return queue.id;
    }

    /** How many commands may be in flight at once (the queue's size less one). */
    public int depth() {
        return queue.slots();
    }

    public int inFlight() {
        return queue.outstanding();
    }

    // ---------------------------------------------------------------- asynchronous

    /**
     * Queues a Read of {@code blocks} from {@code lba} of namespace {@code nsid} into {@code buffer}
     * (the device sees its first byte at {@code iova}). IllegalStateException when {@link #depth()}
     * commands are in flight; IllegalArgumentException for a transfer over the limit or a buffer too small.
     */
    public void submitRead(int nsid, long lba, int blocks, MemorySegment buffer, long iova, long tag) throws IOException {
        submitData(IO_READ, nsid, lba, blocks, buffer, 0, iova, tag);
    }

    public void submitRead(int nsid, long lba, int blocks, DmaRegion buffer, long tag) throws IOException {
        submitData(IO_READ, nsid, lba, blocks, buffer.segment(), 0, buffer.iova(), tag);
    }

    /** Queues a Write of {@code blocks} at {@code lba} from {@code buffer}; as {@link #submitRead}. */
    public void submitWrite(int nsid, long lba, int blocks, MemorySegment buffer, long iova, long tag) throws IOException {
        submitData(IO_WRITE, nsid, lba, blocks, buffer, 0, iova, tag);
    }

    public void submitWrite(int nsid, long lba, int blocks, DmaRegion buffer, long tag) throws IOException {
        submitData(IO_WRITE, nsid, lba, blocks, buffer.segment(), 0, buffer.iova(), tag);
    }

    /**
     * Queues a Read of {@code blocks} into the pieces of {@code data}, which must hold exactly the
     * blocks' bytes. Without SGLs ({@link NvmeDriver#usesSgls()}) the pieces must meet on page
     * boundaries; otherwise as a Read into a {@link DmaRegion}.
     */
    public void submitRead(int nsid, long lba, int blocks, ScatterList data, long tag) throws IOException {
        submitScattered(IO_READ, nsid, lba, blocks, data, tag);
    }

    /** Queues a Write of {@code blocks} from the pieces of {@code data}; as the Read of a scatter list. */
    public void submitWrite(int nsid, long lba, int blocks, ScatterList data, long tag) throws IOException {
        submitScattered(IO_WRITE, nsid, lba, blocks, data, tag);
    }

    /** Hands the completions already there to {@code listener}; returns how many. Never waits. */
    public int poll(CompletionListener listener) throws IOException {
        return queue.reap(listener);
    }

    /**
     * Waits up to {@code timeout} for a completion, then hands all that are there to {@code listener};
     * returns how many (0 when the time ran out).
     */
    public int await(CompletionListener listener, Duration timeout) throws IOException {
        if (!queue.awaitCompletion(System.nanoTime() + timeout.toNanos())) {
            return 0;
        }
        return queue.reap(listener);
    }

    /** A Read or Write of the data at {@code offset} of {@code buffer}, which the device sees at {@code iova}. */
    private void submitData(int opcode, int nsid, long lba, int blocks, MemorySegment buffer, long offset, long iova, long tag)
            throws IOException {
        driver.checkOpen();
        Namespace ns = driver.namespace(nsid);
        long bytes = checkTransfer(ns, lba, blocks);
        if (buffer.byteSize() - offset < bytes) {
            throw new IllegalArgumentException("a buffer of %d bytes for %d blocks of %d".formatted(buffer.byteSize() - offset,
                    blocks, ns.blockSize()));
        }
        submitContiguous(opcode, nsid, lba, blocks, bytes, iova, tag);
    }

    /** {@code bytes} at {@code iova}: one SGL data block, or PRPs. */
    private void submitContiguous(int opcode, int nsid, long lba, int blocks, long bytes, long iova, long tag)
            throws IOException {
        if (sgls != null) {
            sgls.checkDataBlock(iova, bytes);
            int slot = takeSlot(tag);
            queue.submit(slot, opcode, FLAGS_PSDT_SGL, nsid, iova, SglBuilder.dataBlock(bytes), (int) lba, (int) (lba >>> 32),
                    blocks - 1, 0);
            return;
        }
        if ((iova & 3) != 0) {
            throw new IllegalArgumentException("data at IOVA 0x%x is not dword-aligned (PRP1)".formatted(iova));
        }
        int slot = takeSlot(tag);
        long prp2 = dataPointer2(slot, iova, bytes);
        queue.submit(slot, opcode, nsid, iova, prp2, (int) lba, (int) (lba >>> 32), blocks - 1, 0);
    }

    private void submitScattered(int opcode, int nsid, long lba, int blocks, ScatterList data, long tag) throws IOException {
        driver.checkOpen();
        long bytes = checkTransfer(driver.namespace(nsid), lba, blocks);
        if (data.byteCount() != bytes) {
            throw new IllegalArgumentException("the scatter list holds %d bytes; the command moves %d".formatted(data.byteCount(),
                    bytes));
        }
        if (data.size() == 1) {
            submitContiguous(opcode, nsid, lba, blocks, bytes, data.iova(0), tag);
            return;
        }
        if (sgls == null) {
            ScatterPrps.check(data);
            int slot = takeSlot(tag);
            queue.submit(slot, opcode, nsid, data.iova(0), ScatterPrps.prp2(queue, slot, data), (int) lba, (int) (lba >>> 32),
                    blocks - 1, 0);
            return;
        }
        sgls.checkList(data);
        int slot = takeSlot(tag);
        queue.submit(slot, opcode, FLAGS_PSDT_SGL, nsid, queue.slotPageIova(slot), sgls.writeSegment(slot, data), (int) lba,
                (int) (lba >>> 32), blocks - 1, 0);
    }

    /**
     * PRP2 for {@code bytes} from {@code iova} (§4.3): none when PRP1's page holds them, the second
     * page when two do, else a PRP list of the remaining pages in the slot's page.
     */
    private long dataPointer2(int slot, long iova, long bytes) {
        long firstPageBytes = PAGE_SIZE - (iova & PAGE_MASK);
        if (bytes <= firstPageBytes) {
            return 0;
        }
        long nextPage = iova + firstPageBytes;
        if (bytes <= firstPageBytes + PAGE_SIZE) {
            return nextPage;
        }
        MemorySegment lists = queue.slotPages();
        long list = QueuePair.slotPageOffset(slot);
        long pages = (bytes - firstPageBytes + PAGE_MASK) >>> PAGE_SHIFT;
        for (long i = 0; i < pages; i++) {
            lists.set(ValueLayout.JAVA_LONG, list + i * Long.BYTES, nextPage + (i << PAGE_SHIFT));
        }
        return queue.slotPageIova(slot);
    }

    private long checkTransfer(Namespace ns, long lba, int blocks) {
        if (blocks < 1 || blocks > MAX_BLOCKS_PER_COMMAND) {
            throw new IllegalArgumentException("%d blocks in one command (1-%d)".formatted(blocks, MAX_BLOCKS_PER_COMMAND));
        }
        if (lba < 0 || lba > ns.sizeBlocks() - blocks) {
            throw new IllegalArgumentException("blocks [%d, +%d) lie outside namespace %d of %d blocks".formatted(lba, blocks,
                    ns.nsid(), ns.sizeBlocks()));
        }
        long bytes = (long) blocks * ns.blockSize();
        if (bytes > driver.maxTransferBytes()) {
            throw new IllegalArgumentException("%d bytes in one command exceed the controller's transfer limit (MDTS) of %d"
                    .formatted(bytes, driver.maxTransferBytes()));
        }
        return bytes;
    }

    private int takeSlot(long tag) {
        int slot = queue.acquireSlot(tag);
        if (slot < 0) {
            throw new IllegalStateException("queue %d is full: %d commands in flight".formatted(id(), depth()));
        }
        return slot;
    }

    // ---------------------------------------------------------------- blocking

    /** Reads {@code blocks} from {@code lba} into {@code buffer}, in commands of at most the transfer limit. */
    public void read(int nsid, long lba, int blocks, DmaRegion buffer) throws IOException {
        transfer(IO_READ, "Read", nsid, lba, blocks, buffer.segment(), buffer.iova());
    }

    public void read(int nsid, long lba, int blocks, MemorySegment buffer, long iova) throws IOException {
        transfer(IO_READ, "Read", nsid, lba, blocks, buffer, iova);
    }

    /** Writes {@code blocks} at {@code lba} from {@code buffer}, in commands of at most the transfer limit. */
    public void write(int nsid, long lba, int blocks, DmaRegion buffer) throws IOException {
        transfer(IO_WRITE, "Write", nsid, lba, blocks, buffer.segment(), buffer.iova());
    }

    public void write(int nsid, long lba, int blocks, MemorySegment buffer, long iova) throws IOException {
        transfer(IO_WRITE, "Write", nsid, lba, blocks, buffer, iova);
    }

    /** Reads {@code blocks} from {@code lba} into the pieces of {@code data}, in one command. */
    public void read(int nsid, long lba, int blocks, ScatterList data) throws IOException {
        checkIdle();
        submitScattered(IO_READ, nsid, lba, blocks, data, 0);
        awaitBlocking("Read", IO_READ);
    }

    /** Writes {@code blocks} at {@code lba} from the pieces of {@code data}, in one command. */
    public void write(int nsid, long lba, int blocks, ScatterList data) throws IOException {
        checkIdle();
        submitScattered(IO_WRITE, nsid, lba, blocks, data, 0);
        awaitBlocking("Write", IO_WRITE);
    }

    private void transfer(int opcode, String name, int nsid, long lba, int blocks, MemorySegment buffer, long iova)
            throws IOException {
        Namespace ns = driver.namespace(nsid);
        int blockSize = ns.blockSize();
        if (blocks < 1 || lba < 0 || lba > ns.sizeBlocks() - blocks) {
            throw new IllegalArgumentException("blocks [%d, +%d) lie outside namespace %d of %d blocks".formatted(lba, blocks,
                    nsid, ns.sizeBlocks()));
        }
        if (buffer.byteSize() < (long) blocks * blockSize) {
            throw new IllegalArgumentException("a buffer of %d bytes for %d blocks of %d".formatted(buffer.byteSize(), blocks,
                    blockSize));
        }
        int perCommand = (int) Math.min(MAX_BLOCKS_PER_COMMAND, driver.maxTransferBytes() / blockSize);
        for (int done = 0; done < blocks; ) {
            int n = Math.min(perCommand, blocks - done);
            long offset = (long) done * blockSize;
            checkIdle();
            submitData(opcode, nsid, lba + done, n, buffer, offset, iova + offset, 0);
            awaitBlocking(name, opcode);
            done += n;
        }
    }

    /** Flush (§NVM 3.2.x): the volatile write cache of namespace {@code nsid} reaches non-volatile media. */
    public void flush(int nsid) throws IOException {
        driver.namespace(nsid);
        blocking("Flush", IO_FLUSH, nsid, 0, 0, 0, 0, 0);
    }

    /** Write Zeroes of {@code blocks} at {@code lba}; refused when the controller does not support it (ONCS). */
    public void writeZeroes(int nsid, long lba, int blocks) throws IOException {
        if (!driver.controller().supportsWriteZeroes()) {
            throw new UnsupportedOperationException("the controller does not support Write Zeroes (ONCS bit 3)");
        }
        checkRange(driver.namespace(nsid), lba, blocks);
        blocking("Write Zeroes", IO_WRITE_ZEROES, nsid, 0, 0, (int) lba, (int) (lba >>> 32), blocks - 1);
    }

    /**
     * Deallocates (trims) {@code blocks} at {@code lba} with one Dataset Management range; refused when
     * the controller does not support Dataset Management (ONCS).
     */
    public void deallocate(int nsid, long lba, long blocks) throws IOException {
        if (!driver.controller().supportsDatasetManagement()) {
            throw new UnsupportedOperationException("the controller does not support Dataset Management (ONCS bit 2)");
        }
        Namespace ns = driver.namespace(nsid);
        if (blocks < 1 || blocks > 0xffff_ffffL || lba < 0 || lba > ns.sizeBlocks() - blocks) {
            throw new IllegalArgumentException("blocks [%d, +%d) for a deallocation in namespace %d of %d blocks"
                    .formatted(lba, blocks, nsid, ns.sizeBlocks()));
        }
        checkIdle();
        int slot = takeSlot(0);
        MemorySegment pages = queue.slotPages();
        long range = QueuePair.slotPageOffset(slot);
        pages.set(ValueLayout.JAVA_INT, range, 0);                    // context attributes
        pages.set(ValueLayout.JAVA_INT, range + 4, (int) blocks);     // length in logical blocks
        pages.set(ValueLayout.JAVA_LONG, range + 8, lba);             // starting LBA
        queue.submit(slot, IO_DATASET_MANAGEMENT, nsid, queue.slotPageIova(slot), 0, 0, DSM_ATTRIBUTE_DEALLOCATE, 0, 0);
        awaitBlocking("Dataset Management (deallocate)", IO_DATASET_MANAGEMENT);
    }

    private void checkRange(Namespace ns, long lba, int blocks) {
        if (blocks < 1 || blocks > MAX_BLOCKS_PER_COMMAND || lba < 0 || lba > ns.sizeBlocks() - blocks) {
            throw new IllegalArgumentException("blocks [%d, +%d) in namespace %d of %d blocks".formatted(lba, blocks, ns.nsid(),
                    ns.sizeBlocks()));
        }
    }

    private int blocking(String name, int opcode, int nsid, long prp1, long prp2, int cdw10, int cdw11, int cdw12)
            throws IOException {
        checkIdle();
        int slot = takeSlot(0);
        queue.submit(slot, opcode, nsid, prp1, prp2, cdw10, cdw11, cdw12, 0);
        return awaitBlocking(name, opcode);
    }

    private void checkIdle() {
        driver.checkOpen();
        if (queue.outstanding() != 0) {
            throw new IllegalStateException("queue %d has %d asynchronous commands in flight; blocking calls need none"
                    .formatted(id(), queue.outstanding()));
        }
    }

    private int awaitBlocking(String name, int opcode) throws IOException {
        blockingCompleted = false;
        long deadline = System.nanoTime() + timeoutNanos;
        while (!blockingCompleted) {
            if (!queue.awaitCompletion(deadline)) {
                throw new IOException(new TimeoutException("%s on queue %d: no completion within %d ms (abort and reset are not done yet)"
                        .formatted(name, id(), timeoutNanos / 1_000_000)));
            }
            queue.reap(blockingDone);
        }
        if (!NvmeStatus.isSuccess(blockingStatus)) {
            throw new NvmeException(name, opcode, blockingStatus);
        }
        return blockingResult;
    }

    @Override
    public String toString() {
        return "IoQueue[id=" + id() + ", depth=" + depth() + ", inFlight=" + inFlight() + "]";
    }
}
