package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Ioctl;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.ProtocolException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The migration data fd a kernel device hands out when it enters a state that moves data
 * (STOP_COPY, RESUMING, PRE_COPY): the device state streams through read(2) and write(2) on it,
 * VFIO_MIG_GET_PRECOPY_INFO asks how much is left. One at a time; a new state replaces it.
 */
final class MigrationData implements AutoCloseable {
    /** VFIO_MIG_GET_PRECOPY_INFO, on the data fd. */
    static final long MIG_GET_PRECOPY_INFO = Ioctl.io(KernelUapi.VFIO_TYPE, KernelUapi.VFIO_BASE + 21);

    private final String what;
    private Fd fd;

    MigrationData(String device) {
        this.what = device + " migration data";
    }

    /** The fd the last MIG_DEVICE_STATE SET returned (negative: none), replacing the one before. */
    synchronized void replace(int dataFd) {
        close();
        fd = dataFd >= 0 ? Fd.adopt(dataFd) : null;
    }

    /** Up to {@code size} bytes; ENOMSG (pre-copy: nothing more for now) reads as none. */
    byte[] read(int size) throws KernelVfioException {
        Fd data = fd();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Math.max(1, size));
            long n = Linux.read(data, buffer.asSlice(0, size));
            return buffer.asSlice(0, n).toArray(JAVA_BYTE);
        } catch (LinuxException e) {
            if (e.errno() == Errno.ENOMSG) {
                return new byte[0];
            }
            throw Ioctls.failed(what, e);
        }
    }

    void write(byte[] data) throws KernelVfioException {
        Fd fd = fd();
        try (Arena arena = Arena.ofConfined()) {
            Linux.write(fd, arena.allocateFrom(JAVA_BYTE, data));
        } catch (LinuxException e) {
            throw Ioctls.failed(what, e);
        }
    }

    PrecopyInfo precopyInfo() throws KernelVfioException {
        MemorySegment info = PrecopyInfo.request().toSegment();
        Ioctls.call(fd(), MIG_GET_PRECOPY_INFO, info, "VFIO_MIG_GET_PRECOPY_INFO", what);
        try {
            return PrecopyInfo.decode(info);
        } catch (ProtocolException e) {
            throw new KernelVfioException(Errno.EPROTO, what + ": " + e.getMessage(), e);
        }
    }

    private synchronized Fd fd() throws KernelVfioException {
        if (fd == null) {
            throw new KernelVfioException(Errno.EINVAL, what + ": no migration data fd: the device is in no state that moves data");
        }
        return fd;
    }

    @Override
    public synchronized void close() {
        if (fd != null) {
            fd.close();
            fd = null;
        }
    }
}
