package io.jvfio.nvme.perf;

import io.jvfio.nvme.CompletionListener;
import io.jvfio.nvme.DmaRegion;
import io.jvfio.nvme.IoQueue;
import io.jvfio.nvme.Namespace;
import io.jvfio.nvme.NvmeDriver;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * One thread of a perf run: its own I/O queue, a buffer per command slot, and the loop that keeps
 * {@code queueDepth} commands in flight. Completions are collected by the listener; after each
 * poll the thread takes the time once, counts every latency and submits the next commands, so a
 * round costs one clock read, not two per command, and one tail doorbell. Nothing is allocated in
 * the loop.
 */
final class PerfWorker implements Runnable {
    private static final Duration INTERRUPT_WAIT = Duration.ofMillis(10);
    /** Empty polls between two looks at the clock while nothing completes. */
    private static final int POLLS_PER_CLOCK = 64;

    private final NvmeDriver driver;
    private final PerfOptions options;
    private final int index;
    private final CountDownLatch ready;
    private final CountDownLatch go;
    /** Reads among the commands, in percent. */
    private final int readThreshold;
    /** Per command slot: when it was submitted (Long.MIN_VALUE: it failed), and whether it reads. */
    private final long[] submitted;
    private final boolean[] isRead;
    /** The slots the last poll completed. */
    private final int[] done;
    private final CompletionListener collect = this::collected;
    final LatencyHistogram latency = new LatencyHistogram();
    /** Commands completed so far, measured or not: the progress line reads it. */
    private volatile long completed;
    // The outcome, read by the coordinator after the thread ended.
    long reads, writes, errors;
    long allocatedBytes = -1;
    Throwable failure;
    /** Set by the coordinator before {@link #go} opens. */
    long warmupEndNanos, endNanos;

    private IoQueue queue;
    /** Each command slot's buffer, and where the device sees it. */
    private MemorySegment[] slotBuffers;
    private long[] slotIovas;
    private int blocksPerIo;
    private long ioSlots, sequentialNext, sequentialFirst, sequentialCount;
    private long random;
    private int doneCount;

    PerfWorker(NvmeDriver driver, PerfOptions options, int index, CountDownLatch ready, CountDownLatch go) {
        this.driver = driver;
        this.options = options;
        this.index = index;
        this.ready = ready;
        this.go = go;
        this.submitted = new long[options.queueDepth()];
        this.isRead = new boolean[options.queueDepth()];
        this.done = new int[options.queueDepth()];
        this.random = 0x9E37_79B9_7F4A_7C15L * (index + 1);
        this.readThreshold = options.effectiveReadPercent();
    }

    /** The listener: notes the slot, whose latency is counted after the poll. */
    private void collected(long tag, int status, int result) {
        int slot = (int) tag;
        if (status != 0) {
            errors++;
            submitted[slot] = Long.MIN_VALUE;   // not counted as a read or write
        }
        done[doneCount++] = slot;
    }

    long completed() {
        return completed;
    }

    @Override
    public void run() {
        try {
            prepare();
        } catch (Throwable e) {
            failure = e;
            return;
        } finally {
            ready.countDown();
        }
        try {
            go.await();
            loop();
        } catch (Throwable e) {
            failure = e;
        }
    }

    private void prepare() throws IOException {
        queue = driver.ioQueue();
        if (queue.depth() < options.queueDepth()) {
            throw new IllegalArgumentException("queue depth %d: the I/O queue holds only %d commands"
                    .formatted(options.queueDepth(), queue.depth()));
        }
        Namespace ns = driver.namespace(options.nsid());
        if (options.ioBytes() % ns.blockSize() != 0 || options.ioBytes() > driver.maxTransferBytes()) {
            throw new IllegalArgumentException("an I/O of %d bytes: not a multiple of namespace %d's %d-byte blocks, or over the transfer limit of %d"
                    .formatted(options.ioBytes(), ns.nsid(), ns.blockSize(), driver.maxTransferBytes()));
        }
        blocksPerIo = options.ioBytes() / ns.blockSize();
        ioSlots = ns.sizeBlocks() / blocksPerIo;
        if (ioSlots < 1) {
            throw new IllegalArgumentException("namespace %d is smaller than one I/O of %d bytes".formatted(ns.nsid(), options.ioBytes()));
        }
        // Sequential threads each start in their own part of the namespace.
        sequentialCount = Math.max(1, ioSlots / options.threads());
        sequentialFirst = Math.min(ioSlots - 1, index * sequentialCount);
        sequentialNext = 0;
        long slotBytes = (options.ioBytes() + 4095L) & -4096L;
        DmaRegion region = driver.allocateBuffer(slotBytes * options.queueDepth());
        slotBuffers = new MemorySegment[options.queueDepth()];
        slotIovas = new long[options.queueDepth()];
        for (int slot = 0; slot < options.queueDepth(); slot++) {
            slotBuffers[slot] = region.segment().asSlice(slot * slotBytes, slotBytes);
            slotIovas[slot] = region.iova() + slot * slotBytes;
        }
    }

    private void loop() throws IOException {
        long now = System.nanoTime();
        for (int slot = 0; slot < options.queueDepth(); slot++) {
            submit(slot, now);
        }
        int inFlight = options.queueDepth();
        boolean measuring = warmupEndNanos <= now;
        long allocatedAtStart = measuring ? allocated() : 0;
        boolean interrupts = driver.interruptsEnabled();
        int emptyPolls = 0;
        while (inFlight > 0) {
            doneCount = 0;
            int n = interrupts ? queue.await(collect, INTERRUPT_WAIT) : queue.poll(collect);
            if (n == 0 && ++emptyPolls < POLLS_PER_CLOCK) {
                Thread.onSpinWait();
                continue;
            }
            emptyPolls = 0;
            now = System.nanoTime();
            if (!measuring && now - warmupEndNanos >= 0) {
                measuring = true;
                latency.reset();
                reads = 0;
                writes = 0;
                errors = 0;
                allocatedAtStart = allocated();
            }
            boolean more = now - endNanos < 0;
            queue.deferDoorbell();   // one tail doorbell for the commands that replace this poll's completions
            for (int i = 0; i < doneCount; i++) {
                int slot = done[i];
                if (more || !measuring) {
                    count(slot, now);
                }
                if (more) {
                    submit(slot, now);
                } else {
                    inFlight--;
                }
            }
            queue.ringDoorbell();
            completed += doneCount;
            if (!more && measuring && allocatedBytes < 0 && options.allocatedBytes() != null) {
                allocatedBytes = allocated() - allocatedAtStart;
            }
        }
    }

    private void count(int slot, long now) {
        if (submitted[slot] == Long.MIN_VALUE) {
            return;   // an error, counted as such
        }
        latency.record(now - submitted[slot]);
        if (isRead[slot]) {
            reads++;
        } else {
            writes++;
        }
    }

    private long allocated() {
        return options.allocatedBytes() == null ? 0 : options.allocatedBytes().getAsLong();
    }

    private void submit(int slot, long now) throws IOException {
        long lba = nextIoSlot() * blocksPerIo;
        boolean read = readThreshold == 100 || readThreshold > 0 && Long.remainderUnsigned(nextRandom(), 100) < readThreshold;
        submitted[slot] = now;
        isRead[slot] = read;
        if (read) {
            queue.submitRead(options.nsid(), lba, blocksPerIo, slotBuffers[slot], slotIovas[slot], slot);
        } else {
            queue.submitWrite(options.nsid(), lba, blocksPerIo, slotBuffers[slot], slotIovas[slot], slot);
        }
    }

    private long nextIoSlot() {
        if (options.pattern().isRandom()) {
            return Long.remainderUnsigned(nextRandom(), ioSlots);
        }
        long slot = sequentialFirst + sequentialNext;
        sequentialNext = sequentialNext + 1 == sequentialCount || slot + 1 >= ioSlots ? 0 : sequentialNext + 1;
        return slot;
    }

    /** xorshift64*: fast, and no object per number. */
    private long nextRandom() {
        long x = random;
        x ^= x >>> 12;
        x ^= x << 25;
        x ^= x >>> 27;
        random = x;
        return x * 0x2545_F491_4F6C_DD1DL;
    }
}
