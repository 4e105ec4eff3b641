package io.jvfio.devices.storage;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.IoVectors;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A raw disk image file: byte {@code n} of the file is byte {@code n} of the disk. Positional
 * reads and writes (pread/pwrite), so every queue's worker uses the one channel at once; flush is
 * fdatasync. The caller bounds-checks against {@link #size()}. The file is also opened as an
 * {@link Fd}: for reads and writes straight between it and native memory (preadv/pwritev, see
 * {@link #transfersDirectly()}), and so that {@link #deallocate} can punch holes in a writable
 * regular file (fallocate); a block device, or a file system that cannot punch, keeps its data.
 * A flush with nothing written since the last one (or since the image was opened) is not sent to
 * the file system: a live upgrade's successor stops its fresh device before it loads the old
 * server's state, and that stop flushes, right after the old server's stop flushed the same file
 * (an fdatasync of a clean file still costs the disk's cache flush, milliseconds of the pause).
 */
public final class BlockImage implements BlockStore {
    /** The smallest disk: one 512-byte sector. */
    private static final int MIN_SIZE = 512;
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final boolean readOnly;
    /** The file again, for preadv/pwritev and fallocate. */
    private final Fd file;
    /** Cleared when the file system answers that it cannot punch holes. */
    private volatile boolean canPunch;
    /** Whether a write completed since the last flush began (set after the write, cleared before the fdatasync). */
    private volatile boolean written;
    /** The fdatasyncs issued. */
    private final AtomicLong syncs = new AtomicLong();

    private BlockImage(Path path, FileChannel channel, long size, boolean readOnly, Fd file) {
        this.path = path;
        this.channel = channel;
        this.size = size;
        this.readOnly = readOnly;
        this.file = file;
        this.canPunch = !readOnly && Files.isRegularFile(path);
    }

    /**
     * Opens {@code path}; with {@code createSize > 0}, creates it (sparse) at that size if it does
     * not exist, and refuses an existing file of another size.
     */
    public static BlockImage open(Path path, long createSize, boolean readOnly) throws IOException {
        if (createSize > 0 && !Files.exists(path)) {
            if (readOnly) {
                throw new IOException("cannot create the read-only image " + path);
            }
            try (FileChannel c = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                c.truncate(0);
                c.write(ByteBuffer.allocate(1), createSize - 1); // sparse: only the last byte is allocated
            }
        }
        Set<StandardOpenOption> options = readOnly ? EnumSet.of(StandardOpenOption.READ)
                : EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel channel = FileChannel.open(path, options);
        long size = channel.size();
        if (createSize > 0 && size != createSize) {
            channel.close();
            throw new IOException("%s exists with %d bytes, not the %d asked for".formatted(path, size, createSize));
        }
        if (size < MIN_SIZE) {
            channel.close();
            throw new IOException("%s has %d bytes: a disk needs at least one 512-byte sector".formatted(path, size));
        }
        try {
            return new BlockImage(path, channel, size, readOnly, Linux.open(path, !readOnly));
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    /** Fills {@code dst} from {@code offset}; bytes past the end of the file read as zeros. */
    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, offset);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0); // the file shrank under us: a hole, not garbage
                }
                return;
            }
            offset += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        try {
            while (src.hasRemaining()) {
                offset += channel.write(src, offset);
            }
        } finally {
            written = true; // also after a failure part-way: some bytes may have reached the file
        }
    }

    @Override
    public boolean transfersDirectly() {
        return true;
    }

    @Override
    public void read(long offset, IoVectors vectors) throws IOException {
        Linux.preadv(file, vectors, offset);
    }

    @Override
    public void write(long offset, IoVectors vectors) throws IOException {
        try {
            Linux.pwritev(file, vectors, offset);
        } finally {
            written = true;
        }
    }

    @Override
    public void writeZeros(long offset, long length) throws IOException {
        while (length > 0) {
            int chunk = (int) Math.min(length, ZERO_CHUNK);
            write(offset, ZEROS.duplicate().limit(chunk));
            offset += chunk;
            length -= chunk;
        }
    }

    /**
     * Punches a hole over the range (it then reads zeros) when the image is a regular file on a
     * file system that can; otherwise does nothing and returns false.
     */
    @Override
    public boolean deallocate(long offset, long length) throws IOException {
        if (!canPunch) {
            return false;
        }
        try {
            if (length > 0) {
                try {
                    Linux.punchHole(file, offset, length);
                } finally {
                    written = true;
                }
            }
            return true;
        } catch (LinuxException e) {
            if (e.errno() != Errno.EOPNOTSUPP && e.errno() != Errno.ENOSYS) {
                throw e;
            }
            canPunch = false;   // this file system cannot: stop asking
            return false;
        }
    }

    /** Makes every completed write durable (fdatasync), if one completed since the last flush. */
    @Override
    public void flush() throws IOException {
        if (!written) {
            return;
        }
        written = false; // before the sync: a write completing meanwhile is synced by the next flush
        try {
            channel.force(false);
        } catch (IOException e) {
            written = true;
            throw e;
        }
        syncs.incrementAndGet();
    }

    /** How many flushes reached the file system (fdatasync). */
    public long syncs() {
        return syncs.get();
    }

    @Override
    public void close() throws IOException {
        try (channel) {
            file.close();
        }
    }
}
