package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;

import io.jvfio.devices.storage.BlockImage;
import io.jvfio.linux.Errno;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultVocabulary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * virtio-blk (VIRTIO 1.2 §5.2) over a raw image file: a modern virtio PCI disk (1af4:1042) that
 * Linux's virtio_blk driver binds to. Requests: IN, OUT, FLUSH (fdatasync), GET_ID (the serial),
 * DISCARD (accepted; the image keeps its bytes, which the spec allows) and WRITE_ZEROES. Every
 * sector range is checked against the capacity (IOERR otherwise); a read-only disk offers RO and
 * answers writes with IOERR. With several queues (MQ) each has its own worker.
 *
 * <p>Faults ({@link #faults()}, issue 18): besides the core's, rules on requests as a queue takes
 * them ({@link VirtioBlkFaults}): complete with IOERR or UNSUPP, delay the completion, need a reset.
 *
 * <p>Live migration assumes shared storage, as a VMM's does: source and destination open the
 * same image. The stop finishes the requests in progress and flushes the image before the
 * state leaves; the destination refuses a stream from a disk of another size or mode.
 *
 * <pre>{@code
 * VirtioBlk disk = VirtioBlk.builder(Path.of("disk.img")).create(1L << 30).queues(2).build();
 * VfioUserServer.bind(socket, disk, ServerOptions.defaults()).start();
 * }</pre>
 */
public final class VirtioBlk extends VirtioPciDevice {
    /** PCI class: mass storage controller, "other". */
    public static final int CLASS_CODE = 0x018000;
    public static final int DEFAULT_QUEUE_SIZE = 256;
    /** Largest DISCARD / WRITE_ZEROES range per segment, in sectors (what the config space reports). */
    static final int MAX_DISCARD_SECTORS = 1 << 22, MAX_DISCARD_SEGMENTS = 32;
    static final int MAX_WRITE_ZEROES_SECTORS = 1 << 22, MAX_WRITE_ZEROES_SEGMENTS = 1;
    /** Data moves between the image and guest memory through a buffer of this size per queue. */
    private static final int BOUNCE_BYTES = 1 << 20;

    private static final System.Logger LOG = System.getLogger(VirtioBlk.class.getName());

    private final BlockImage image;
    /** The image failed a request: the first failure is a warning, the rest are debug lines. */
    private final AtomicBoolean imageFailed = new AtomicBoolean();
    private final byte[] serial;
    private final MemorySegment deviceConfig;
    private final ByteBuffer[] bounces;
    private final MemorySegment[] headers;
    /** Per queue: the request as fault rules see it, refilled for each request while a rule is armed. */
    private final VirtioBlkFaults.RequestPoint[] faultPoints;

    private VirtioBlk(BlockImage image, int queues, int queueSize, String serial, NotifyMode notifyMode) {
        super(DEVICE_TYPE_BLOCK, CLASS_CODE, features(image.isReadOnly()), BLK_CFG_SIZE, queues, queueSize, notifyMode);
        this.image = image;
        this.serial = serial.getBytes(StandardCharsets.US_ASCII);
        this.deviceConfig = blockConfig(image.size() >>> SECTOR_SHIFT, queueSize, queues);
        this.bounces = new ByteBuffer[queues];
        this.headers = new MemorySegment[queues];
        this.faultPoints = new VirtioBlkFaults.RequestPoint[queues];
        for (int i = 0; i < queues; i++) {
            bounces[i] = ByteBuffer.allocateDirect(BOUNCE_BYTES);
            headers[i] = MemorySegment.ofArray(new long[BLK_REQ_HEADER_SIZE / Long.BYTES]);
            faultPoints[i] = new VirtioBlkFaults.RequestPoint();
        }
        faults().addPerformer(action -> action instanceof VirtioBlkFaults.NeedsReset && requestReset("a fault rule"));
    }

    private static long features(boolean readOnly) {
        long f = featureBit(BLK_F_SEG_MAX) | featureBit(BLK_F_BLK_SIZE) | featureBit(BLK_F_FLUSH) | featureBit(BLK_F_MQ);
        return readOnly ? f | featureBit(BLK_F_RO) : f | featureBit(BLK_F_DISCARD) | featureBit(BLK_F_WRITE_ZEROES);
    }

    private static MemorySegment blockConfig(long sectors, int queueSize, int queues) {
        MemorySegment c = MemorySegment.ofArray(new byte[BLK_CFG_SIZE]);
        c.set(ValueLayout.JAVA_LONG_UNALIGNED, BLK_CFG_CAPACITY, sectors);
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_SEG_MAX, queueSize - 2); // header and status take two
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_BLK_SIZE, SECTOR_SIZE);
        c.set(ValueLayout.JAVA_SHORT_UNALIGNED, BLK_CFG_NUM_QUEUES, (short) queues);
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_MAX_DISCARD_SEG, MAX_DISCARD_SEGMENTS);
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_DISCARD_SECTOR_ALIGNMENT, 1);
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SECTORS);
        c.set(ValueLayout.JAVA_INT_UNALIGNED, BLK_CFG_MAX_WRITE_ZEROES_SEG, MAX_WRITE_ZEROES_SEGMENTS);
        return c;
    }

    public static Builder builder(Path image) {
        return new Builder(image);
    }

    /** The disk's size in bytes (a whole number of 512-byte sectors). */
    public long capacity() {
        return (image.size() >>> SECTOR_SHIFT) << SECTOR_SHIFT;
    }

    public Path imagePath() {
        return image.path();
    }

    /** The image, for tests of when a stop makes it durable. */
    BlockImage image() {
        return image;
    }

    public boolean isReadOnly() {
        return image.isReadOnly();
    }

    /** The fault words of plans and the control socket: virtio-blk's requests and actions, then the core's. */
    @Override
    public FaultVocabulary faultVocabulary() {
        return VirtioBlkFaults.vocabulary();
    }

    @Override
    protected void readDeviceConfig(int offset, MemorySegment dst) {
        MemorySegment.copy(deviceConfig, offset, dst, 0, dst.byteSize());
    }

    // ------------------------------------------------------------------ requests

    @Override
    protected long process(int queue, DescriptorChain chain, GuestMemory memory) throws VirtioFault {
        int last = chain.count() - 1;
        if (!chain.isWritable(last) || chain.length(last) < 1) {
            throw new VirtioFault("request without a writable status byte");
        }
        long readable = directionBytes(chain, false), writable = directionBytes(chain, true);
        if (readable < BLK_REQ_HEADER_SIZE) {
            throw new VirtioFault("request header of %d bytes".formatted(readable));
        }
        MemorySegment header = headers[queue];
        copy(chain, memory, false, 0, header, false);
        int type = header.get(ValueLayout.JAVA_INT_UNALIGNED, BLK_REQ_TYPE);
        long sector = header.get(ValueLayout.JAVA_LONG_UNALIGNED, BLK_REQ_SECTOR);
        long dataIn = writable - 1;                       // device-writable bytes before the status byte
        long dataOut = readable - BLK_REQ_HEADER_SIZE;    // device-readable bytes after the header
        FaultAction fault = faults().isEmpty() ? null
                : faults().ask(faultPoints[queue].fill(queue, type, sector, type == BLK_T_IN ? dataIn : dataOut));
        if (fault instanceof VirtioBlkFaults.Complete complete) {
            writeStatus(chain, memory, complete.status());
            return 1;
        }
        if (fault instanceof VirtioBlkFaults.NeedsReset) {
            throw new VirtioFault("a fault rule asked for a reset at a request of type %d".formatted(type));
        }
        long written = 0;
        int status;
        try {
            switch (type) {
                case BLK_T_IN -> {
                    status = transfer(queue, chain, memory, sector, dataIn, true);
                    written = status == BLK_S_OK ? dataIn : 0;
                }
                case BLK_T_OUT -> status = image.isReadOnly() ? BLK_S_IOERR
                        : transfer(queue, chain, memory, sector, dataOut, false);
                case BLK_T_FLUSH -> {
                    image.flush();
                    status = BLK_S_OK;
                }
                case BLK_T_GET_ID -> {
                    int n = (int) Math.min(Math.min(dataIn, BLK_ID_BYTES), serial.length);
                    MemorySegment id = MemorySegment.ofArray(new byte[(int) Math.min(dataIn, BLK_ID_BYTES)]);
                    MemorySegment.copy(MemorySegment.ofArray(serial), 0, id, 0, n);
                    copy(chain, memory, true, 0, id, true);
                    written = id.byteSize();
                    status = BLK_S_OK;
                }
                case BLK_T_DISCARD, BLK_T_WRITE_ZEROES -> status = image.isReadOnly() ? BLK_S_IOERR
                        : discardOrZero(chain, memory, dataOut, type == BLK_T_WRITE_ZEROES);
                default -> status = BLK_S_UNSUPP;
            }
        } catch (IOException e) {
            status = BLK_S_IOERR;    // the host file failed us: the guest sees a disk error, not a dead device
            LOG.log(imageFailed.getAndSet(true) ? System.Logger.Level.DEBUG : System.Logger.Level.WARNING,
                    "{0}: request type {1} at sector {2}: {3} ({4}); the guest sees IOERR", imagePath(), type, sector,
                    e.getMessage(), e.getClass().getSimpleName());
        }
        writeStatus(chain, memory, status);
        if (fault instanceof VirtioBlkFaults.DelayCompletion delay) {
            holdCompletion(delay.delay());
        }
        return written + 1;
    }

    /** The request's last byte, device-writable: its status. */
    private static void writeStatus(DescriptorChain chain, GuestMemory memory, int status) throws VirtioFault {
        int last = chain.count() - 1;
        memory.write(chain.address(last) + chain.length(last) - 1, MemorySegment.ofArray(new byte[] {(byte) status}));
    }

    /** Moves {@code length} bytes between the image at {@code sector} and the request's data buffers. */
    private int transfer(int queue, DescriptorChain chain, GuestMemory memory, long sector, long length, boolean toGuest)
            throws IOException, VirtioFault {
        if (!inBounds(sector, length)) {
            return BLK_S_IOERR;
        }
        ByteBuffer bounce = bounces[queue];
        long position = sector << SECTOR_SHIFT;
        long skip = toGuest ? 0 : BLK_REQ_HEADER_SIZE;
        for (long done = 0; done < length; ) {
            int chunk = (int) Math.min(length - done, bounce.capacity());
            bounce.clear().limit(chunk);
            MemorySegment staged = MemorySegment.ofBuffer(bounce).asSlice(0, chunk);
            if (toGuest) {
                image.read(position + done, bounce);
                copy(chain, memory, true, done, staged, true);
            } else {
                copy(chain, memory, false, skip + done, staged, false);
                image.write(position + done, bounce);
            }
            done += chunk;
        }
        return BLK_S_OK;
    }

    /** DISCARD and WRITE_ZEROES carry an array of {sector, num_sectors, flags} segments. */
    private int discardOrZero(DescriptorChain chain, GuestMemory memory, long dataOut, boolean zero)
            throws IOException, VirtioFault {
        int maxSegments = zero ? MAX_WRITE_ZEROES_SEGMENTS : MAX_DISCARD_SEGMENTS;
        long maxSectors = zero ? MAX_WRITE_ZEROES_SECTORS : MAX_DISCARD_SECTORS;
        if (dataOut == 0 || dataOut % BLK_DWZ_SIZE != 0 || dataOut / BLK_DWZ_SIZE > maxSegments) {
            return BLK_S_IOERR;
        }
        MemorySegment segments = MemorySegment.ofArray(new byte[(int) dataOut]);
        copy(chain, memory, false, BLK_REQ_HEADER_SIZE, segments, false);
        for (long at = 0; at < dataOut; at += BLK_DWZ_SIZE) {
            long sector = segments.get(ValueLayout.JAVA_LONG_UNALIGNED, at + BLK_DWZ_SECTOR);
            long sectors = Integer.toUnsignedLong(segments.get(ValueLayout.JAVA_INT_UNALIGNED, at + BLK_DWZ_NUM_SECTORS));
            int flags = segments.get(ValueLayout.JAVA_INT_UNALIGNED, at + BLK_DWZ_FLAGS);
            boolean unmapFlag = (flags & BLK_WRITE_ZEROES_FLAG_UNMAP) != 0;
            if (sectors > maxSectors || !inBounds(sector, sectors << SECTOR_SHIFT) || (!zero && unmapFlag)
                    || (flags & ~BLK_WRITE_ZEROES_FLAG_UNMAP) != 0) {
                return BLK_S_IOERR;
            }
        }
        if (zero) {
            for (long at = 0; at < dataOut; at += BLK_DWZ_SIZE) {
                long sector = segments.get(ValueLayout.JAVA_LONG_UNALIGNED, at + BLK_DWZ_SECTOR);
                long sectors = Integer.toUnsignedLong(segments.get(ValueLayout.JAVA_INT_UNALIGNED, at + BLK_DWZ_NUM_SECTORS));
                image.writeZeros(sector << SECTOR_SHIFT, sectors << SECTOR_SHIFT);
            }
        }
        // A discard is a hint (§5.2.6.2: the device MAY deallocate); the bytes stay as they were.
        return BLK_S_OK;
    }

    private boolean inBounds(long sector, long length) {
        long sectors = capacity() >>> SECTOR_SHIFT;
        return sector >= 0 && sector <= sectors && length >= 0 && (length & (SECTOR_SIZE - 1)) == 0
                && (length >>> SECTOR_SHIFT) <= sectors - sector;
    }

    /** Bytes of the chain's descriptors in one direction. */
    private static long directionBytes(DescriptorChain chain, boolean writable) {
        long total = 0;
        for (int i = 0; i < chain.count(); i++) {
            if (chain.isWritable(i) == writable) {
                total += chain.length(i);
            }
        }
        return total;
    }

    /**
     * Copies between {@code buffer} and the byte stream formed by the chain's device-readable
     * (or device-writable) descriptors, starting {@code streamOffset} bytes into that stream.
     */
    private static void copy(DescriptorChain chain, GuestMemory memory, boolean writableStream, long streamOffset,
                             MemorySegment buffer, boolean toGuest) throws VirtioFault {
        long remaining = buffer.byteSize(), bufferOffset = 0, skip = streamOffset;
        for (int i = 0; i < chain.count() && remaining > 0; i++) {
            if (chain.isWritable(i) != writableStream) {
                continue;
            }
            long length = chain.length(i);
            if (skip >= length) {
                skip -= length;
                continue;
            }
            long n = Math.min(length - skip, remaining);
            long address = chain.address(i) + skip;
            MemorySegment part = buffer.asSlice(bufferOffset, n);
            if (toGuest) {
                memory.write(address, part);
            } else {
                memory.read(address, part);
            }
            skip = 0;
            bufferOffset += n;
            remaining -= n;
        }
    }

    // ------------------------------------------------------------------ migration

    private static final String BLK_STATE = "virtio-blk";
    private static final int BLK_STATE_VERSION = 1;

    @Override
    protected void saveDeviceState(StateWriter out) {
        out.section(BLK_STATE, BLK_STATE_VERSION).u64(capacity()).bool(isReadOnly());
    }

    @Override
    protected void loadDeviceState(StateReader in) throws VfioException {
        StateReader.Section s = in.section(BLK_STATE).requireVersion(BLK_STATE_VERSION);
        long sourceCapacity = s.u64();
        boolean sourceReadOnly = s.bool();
        if (sourceCapacity != capacity()) {
            throw VfioException.invalid("the source disk has %d bytes, this one (%s) %d"
                    .formatted(sourceCapacity, imagePath(), capacity()));
        }
        if (sourceReadOnly != isReadOnly()) {
            throw VfioException.invalid("the source disk is %s, this one is %s"
                    .formatted(sourceReadOnly ? "read-only" : "writable", isReadOnly() ? "read-only" : "writable"));
        }
    }

    /** Finishes the requests in progress, then makes what they wrote durable for the destination. */
    @Override
    public void quiesce() throws VfioException {
        super.quiesce();
        if (!isReadOnly()) {
            try {
                image.flush();
            } catch (IOException e) {
                throw new VfioException(Errno.EIO, "flushing %s at the stop: %s".formatted(imagePath(), e.getMessage()), e);
            }
        }
    }

    /** Finishes the requests in progress; the successor reads what they wrote through this host's page cache. */
    @Override
    public void quiesceForSuccessor() throws VfioException {
        super.quiesce();
    }

    // ------------------------------------------------------------------ lifecycle

    /** Stops the workers and closes the image. */
    @Override
    public void shutdown() {
        super.shutdown();
        try {
            image.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** How to build a disk. */
    public static final class Builder {
        private final Path image;
        private long createSize;
        private boolean readOnly;
        private int queues = 1;
        private int queueSize = DEFAULT_QUEUE_SIZE;
        private String serial;
        private NotifyMode notifyMode = NotifyMode.TRAPPED;

        private Builder(Path image) {
            this.image = Objects.requireNonNull(image);
        }

        /** Creates the image (sparse) with {@code bytes} if it does not exist; an existing one must have that size. */
        public Builder create(long bytes) {
            if (bytes < SECTOR_SIZE || bytes % SECTOR_SIZE != 0) {
                throw new IllegalArgumentException("disk size " + bytes + " is not a positive multiple of 512");
            }
            this.createSize = bytes;
            return this;
        }

        public Builder readOnly(boolean readOnly) {
            this.readOnly = readOnly;
            return this;
        }

        /** Request queues (MQ); each gets a worker thread and an MSI-X vector. */
        public Builder queues(int queues) {
            if (queues < 1 || queues > 64) {
                throw new IllegalArgumentException("queues must be 1-64, not " + queues);
            }
            this.queues = queues;
            return this;
        }

        /** Descriptors per queue: a power of two, 4-32768 (default 256). */
        public Builder queueSize(int queueSize) {
            if (queueSize < 4 || queueSize > MAX_QUEUE_SIZE || Integer.bitCount(queueSize) != 1) {
                throw new IllegalArgumentException("queue size " + queueSize + " is not a power of two from 4 to " + MAX_QUEUE_SIZE);
            }
            this.queueSize = queueSize;
            return this;
        }

        /** The GET_ID serial (at most 20 ASCII characters; default: from the image's file name). */
        public Builder serial(String serial) {
            if (serial.length() > BLK_ID_BYTES || !StandardCharsets.US_ASCII.newEncoder().canEncode(serial)) {
                throw new IllegalArgumentException("serial must be at most 20 ASCII characters: " + serial);
            }
            this.serial = serial;
            return this;
        }

        public Builder notifyMode(NotifyMode mode) {
            this.notifyMode = Objects.requireNonNull(mode);
            return this;
        }

        public VirtioBlk build() throws IOException {
            BlockImage opened = BlockImage.open(image, createSize, readOnly);
            String id = serial != null ? serial : defaultSerial(image);
            try {
                return new VirtioBlk(opened, queues, queueSize, id, notifyMode);
            } catch (RuntimeException e) {
                opened.close();
                throw e;
            }
        }

        private static String defaultSerial(Path image) {
            String name = String.valueOf(image.getFileName()).replaceAll("[^A-Za-z0-9._-]", "_");
            return name.length() <= BLK_ID_BYTES ? name : name.substring(0, BLK_ID_BYTES);
        }
    }
}
