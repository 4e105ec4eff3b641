package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import io.jvfio.devices.storage.BlockStore;
import io.jvfio.linux.Errno;
import io.jvfio.linux.IoVectors;
import io.jvfio.linux.LinuxException;
import io.jvfio.server.DmaView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * The NVM command set (§6) as one I/O queue's worker runs it: Read, Write, Flush, Write Zeroes
 * and Dataset Management (deallocate). The namespace must be active (Invalid Namespace or
 * Format), the blocks must exist (LBA Out of Range), the data must fit MDTS (Invalid Field) and
 * be described by valid PRPs ({@link PrpWalker}) or, with PSDT 01b, a valid SGL ({@link SglWalker}).
 * Data moves straight between an image file and mapped host memory (preadv/pwritev over the
 * command's ranges, {@link DmaView#transferMapped}), else through this queue's bounce buffer (memory
 * reached by message, a null namespace, bit buckets); neither allocates where host memory is mapped. A
 * write with FUA, or any write while the volatile write cache is disabled, is flushed before it
 * completes.
 *
 * <p>A namespace detached at run time may be in use by the command in hand: the worker publishes
 * the namespace it uses before it checks that it is still active, so {@link #awaitDone} returns
 * only once no command of this queue can touch the detached store (a hazard pointer).
 */
final class IoCommands implements SubmissionQueue.Executor {
    /** What {@link #inUse} holds while a broadcast Flush goes through every namespace. */
    private static final Object EVERY_NAMESPACE = new Object();
    private static final long DETACH_POLL_NANOS = 50_000;

    private final Namespaces namespaces;
    private final Features features;
    private final LogPages logs;
    private final int maxBytes;
    /** Where the current command's data is in host memory, as the PRP or SGL walker found it. */
    private final DataRanges ranges;
    private final PrpWalker prps;
    private final SglWalker sgls;
    private final ByteBuffer bounce;
    private final MemorySegment bounceSegment;
    /** The current command's host memory as native ranges, for a direct transfer. */
    private final IoVectors vectors;
    private final DirectTransfer direct = new DirectTransfer();
    /** The namespace the command in hand uses, {@link #EVERY_NAMESPACE}, or null. */
    private volatile Object inUse;

    IoCommands(Namespaces namespaces, Features features, LogPages logs, int maxBytes) {
        this.namespaces = namespaces;
        this.features = features;
        this.logs = logs;
        this.maxBytes = maxBytes;
        this.ranges = new DataRanges(Math.max(PrpWalker.rangesFor(maxBytes), SglWalker.MAX_DATA_RANGES));
        this.prps = new PrpWalker(ranges);
        this.sgls = new SglWalker(ranges);
        this.bounce = ByteBuffer.allocateDirect(maxBytes);
        this.bounceSegment = MemorySegment.ofBuffer(bounce);
        this.vectors = new IoVectors(Math.min(1024, Math.max(PrpWalker.rangesFor(maxBytes), SglWalker.MAX_DATA_RANGES)));
    }

    @Override
    public boolean execute(SubmissionQueue queue, Command c, DmaView dma) {
        if (c.psdt() > PSDT_SGL) {
            c.fail(SC_INVALID_FIELD);   // no metadata, so no SGL in MPTR (SGLS bit 19 clear); 11b is reserved
            return true;
        }
        try {
            switch (c.opcode()) {
                case IO_READ -> readOrWrite(c, dma, true);
                case IO_WRITE -> readOrWrite(c, dma, false);
                case IO_FLUSH -> flush(c);
                case IO_WRITE_ZEROES -> writeZeroes(c);
                case IO_DATASET_MANAGEMENT -> datasetManagement(c, dma);
                default -> c.fail(SC_INVALID_OPCODE);
            }
        } finally {
            inUse = null;
        }
        return true;
    }

    /** Returns once the command in hand does not use {@code detached} (no longer active, so no later command will). */
    void awaitDone(Namespace detached) {
        while (inUse == detached || inUse == EVERY_NAMESPACE) {
            LockSupport.parkNanos(DETACH_POLL_NANOS);
        }
    }

    /** The active namespace {@code nsid}, published in {@link #inUse} for this command; null when inactive. */
    private Namespace use(int nsid) {
        Namespace ns = namespaces.get(nsid);
        if (ns != null) {
            inUse = ns;
            if (namespaces.get(nsid) != ns) {   // detached meanwhile: its detach may not have seen inUse
                inUse = null;
                return null;
            }
        }
        return ns;
    }

    /** The namespace whose blocks a Read, Write or Write Zeroes addresses; null (the command failed) when they do not exist. */
    private Namespace addressed(Command c) {
        Namespace ns = use(c.nsid());
        if (ns == null) {
            c.fail(SC_INVALID_NAMESPACE);
        } else if (!ns.contains(c.cdw10And11(), blocks(c))) {
            c.fail(SC_LBA_OUT_OF_RANGE);
            return null;
        }
        return ns;
    }

    /** NLB, CDW12 15:0, is 0-based. */
    private static long blocks(Command c) {
        return (c.cdw(12) & RW_NLB_MASK) + 1L;
    }

    private void readOrWrite(Command c, DmaView dma, boolean read) {
        Namespace ns = addressed(c);
        if (ns == null) {
            return;
        }
        int cdw12 = c.cdw(12);
        long slba = c.cdw10And11(), blocks = blocks(c);
        long bytes = blocks << ns.lbaShift();
        if (bytes > maxBytes) {
            c.fail(SC_INVALID_FIELD);
            return;
        }
        int length = (int) bytes;
        int status = mapData(c, dma, length, read);
        if (status != SC_SUCCESS) {
            c.fail(status);
            return;
        }
        long position = slba << ns.lbaShift();
        try {
            if (ns.store().transfersDirectly()) {
                direct.store = ns.store();
                direct.position = position;
                direct.read = read;
                if (ranges.transferMapped(dma, length, read, vectors, direct)) {
                    count(read, bytes);
                    if (!read && ((cdw12 & RW_FUA) != 0 || !features.writeCacheEnabled)) {
                        ns.store().flush();
                    }
                    return;
                }
            }
        } catch (LinuxException e) {
            // EFAULT: host memory the kernel could not reach (its file shrank); else the store failed.
            c.fail(e.errno() == Errno.EFAULT ? SC_DATA_TRANSFER_ERROR : read ? SC_UNRECOVERED_READ_ERROR : SC_WRITE_FAULT);
            return;
        } catch (IOException e) {
            c.fail(read ? SC_UNRECOVERED_READ_ERROR : SC_WRITE_FAULT);
            return;
        }
        bounce.clear().limit(length);
        try {
            if (read) {
                ns.store().read(position, bounce);
                status = ranges.copy(dma, 0, bounceSegment, length, true);
                count(true, bytes);
            } else {
                status = ranges.copy(dma, 0, bounceSegment, length, false);
                if (status == SC_SUCCESS) {
                    ns.store().write(position, bounce);
                    if ((cdw12 & RW_FUA) != 0 || !features.writeCacheEnabled) {
                        ns.store().flush();
                    }
                    count(false, bytes);
                }
            }
        } catch (IOException e) {
            status = read ? SC_UNRECOVERED_READ_ERROR : SC_WRITE_FAULT;
        }
        if (status != SC_SUCCESS) {
            c.fail(status);
        }
    }

    /** The SMART log's data units and commands. */
    private void count(boolean read, long bytes) {
        if (read) {
            logs.readCommands.increment();
            logs.blocksRead.add(bytes >>> 9);
        } else {
            logs.writeCommands.increment();
            logs.blocksWritten.add(bytes >>> 9);
        }
    }

    /** A read or write straight between the namespace's file and mapped host memory (preadv/pwritev). */
    private static final class DirectTransfer implements DmaView.MappedTransfer {
        BlockStore store;
        long position;
        boolean read;

        @Override
        public void transfer(IoVectors vectors) throws IOException {
            if (read) {
                store.read(position, vectors);
            } else {
                store.write(position, vectors);
            }
        }
    }

    /** Finds the host memory of a transfer of {@code length} bytes (to it when {@code toHost}): PRPs or an SGL, by PSDT. */
    private int mapData(Command c, DmaView dma, int length, boolean toHost) {
        return c.psdt() == PSDT_SGL
                ? sgls.walk(dma, c.entry, SQE_PRP1, length, toHost)
                : prps.walk(dma, c.prp1(), c.prp2(), length);
    }

    private void writeZeroes(Command c) {
        Namespace ns = addressed(c);
        if (ns == null) {
            return;
        }
        long position = c.cdw10And11() << ns.lbaShift(), length = blocks(c) << ns.lbaShift();
        try {
            // DEAC: deallocating is enough when the store then reads zeros; otherwise write them.
            if ((c.cdw(12) & WZ_DEAC) == 0 || !ns.store().deallocate(position, length)) {
                ns.store().writeZeros(position, length);
            }
            if ((c.cdw(12) & RW_FUA) != 0 || !features.writeCacheEnabled) {
                ns.store().flush();
            }
        } catch (IOException e) {
            c.fail(SC_WRITE_FAULT);
        }
    }

    /**
     * Dataset Management (§6.7): reads the NR + 1 ranges through the PRPs or SGL into the bounce buffer,
     * checks every one (LBA Out of Range) before acting on any, then with AD deallocates each. The
     * other attributes (integral dataset hints) and the ranges' context attributes are hints only.
     * CDW10 above NR is reserved: set, it asks for more than 256 ranges (Invalid Field).
     */
    private void datasetManagement(Command c, DmaView dma) {
        Namespace ns = use(c.nsid());
        if (ns == null) {
            c.fail(SC_INVALID_NAMESPACE);
            return;
        }
        int cdw10 = c.cdw(10);
        if ((cdw10 & ~DSM_NR_MASK) != 0) {
            c.fail(SC_INVALID_FIELD);
            return;
        }
        int count = (cdw10 & DSM_NR_MASK) + 1;
        MemorySegment list = bounceSegment.asSlice(0, (long) count * DSM_RANGE_SIZE);
        int status = mapData(c, dma, (int) list.byteSize(), false);
        if (status == SC_SUCCESS) {
            status = ranges.copy(dma, 0, list, false);
        }
        if (status != SC_SUCCESS) {
            c.fail(status);
            return;
        }
        for (int i = 0; i < count; i++) {
            if (!ns.contains(rangeStart(list, i), rangeBlocks(list, i))) {
                c.fail(SC_LBA_OUT_OF_RANGE);
                return;
            }
        }
        if ((c.cdw(11) & DSM_DEALLOCATE) == 0) {
            return;
        }
        try {
            for (int i = 0; i < count; i++) {
                ns.store().deallocate(rangeStart(list, i) << ns.lbaShift(), rangeBlocks(list, i) << ns.lbaShift());
            }
        } catch (IOException e) {
            c.fail(SC_WRITE_FAULT);
        }
    }

    private static long rangeStart(MemorySegment list, int range) {
        return list.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) range * DSM_RANGE_SIZE + DSM_RANGE_SLBA);
    }

    private static long rangeBlocks(MemorySegment list, int range) {
        return Integer.toUnsignedLong(list.get(ValueLayout.JAVA_INT_UNALIGNED, (long) range * DSM_RANGE_SIZE + DSM_RANGE_LENGTH));
    }

    /** Flush one namespace, or all with the broadcast id (VWC advertises it). */
    private void flush(Command c) {
        int nsid = c.nsid();
        try {
            if (nsid == BROADCAST_NSID) {
                inUse = EVERY_NAMESPACE;
                for (Namespace ns : namespaces.snapshot()) {
                    if (ns != null) {
                        ns.store().flush();
                    }
                }
                return;
            }
            Namespace ns = use(nsid);
            if (ns == null) {
                c.fail(SC_INVALID_NAMESPACE);
                return;
            }
            ns.store().flush();
        } catch (IOException e) {
            c.fail(SC_WRITE_FAULT);
        }
    }
}
