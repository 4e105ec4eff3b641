package io.jvfio.linux;

import java.lang.foreign.MemorySegment;

/**
 * ioctl(2): the request numbers, encoded once as {@code <asm-generic/ioctl.h>} does ({@code _IO},
 * {@code _IOR}, {@code _IOW}, {@code _IOWR}), and the call with a pointer or a plain value as its
 * argument. Which form a request takes is the request's own rule (VFIO's CHECK_EXTENSION and
 * SET_IOMMU take a value; most take a pointer to a struct).
 */
public final class Ioctl {
    private Ioctl() {}

    // The request word: number bits 0-7, type bits 8-15, size bits 16-29, direction bits 30-31.
    private static final int NR_SHIFT = 0, TYPE_SHIFT = 8, SIZE_SHIFT = 16, DIR_SHIFT = 30;
    private static final int NR_MAX = 0xFF, TYPE_MAX = 0xFF, SIZE_MAX = (1 << 14) - 1;
    /** _IOC_NONE, _IOC_WRITE (userspace writes, the kernel reads), _IOC_READ. */
    public static final int DIR_NONE = 0, DIR_WRITE = 1, DIR_READ = 2;

    /** _IOC(dir, type, nr, size). */
    public static long request(int direction, int type, int nr, long size) {
        if (direction < 0 || direction > 3 || type < 0 || type > TYPE_MAX || nr < 0 || nr > NR_MAX || size < 0
                || size > SIZE_MAX) {
            throw new IllegalArgumentException("not an ioctl request: dir %d type 0x%x nr %d size %d"
                    .formatted(direction, type, nr, size));
        }
        return ((long) direction << DIR_SHIFT) | ((long) type << TYPE_SHIFT) | ((long) nr << NR_SHIFT)
                | (size << SIZE_SHIFT);
    }

    /** _IO(type, nr): no size, no direction (VFIO and iommufd encode all theirs so). */
    public static long io(int type, int nr) {
        return request(DIR_NONE, type, nr, 0);
    }

    /** _IOR(type, nr, size). */
    public static long ior(int type, int nr, long size) {
        return request(DIR_READ, type, nr, size);
    }

    /** _IOW(type, nr, size). */
    public static long iow(int type, int nr, long size) {
        return request(DIR_WRITE, type, nr, size);
    }

    /** _IOWR(type, nr, size). */
    public static long iowr(int type, int nr, long size) {
        return request(DIR_READ | DIR_WRITE, type, nr, size);
    }

    /**
     * ioctl(fd, request, argument) with {@code argument} (native memory the kernel reads and/or
     * writes); returns the call's non-negative result. Failures name {@code name}, e.g.
     * {@code ioctl VFIO_GROUP_GET_STATUS: EBADF (...)}.
     */
    public static int call(Fd fd, long request, MemorySegment argument, String name) throws LinuxException {
        if (!argument.isNative()) {
            throw new IllegalArgumentException(name + ": the argument must be native memory");
        }
        int number = fd.acquire("ioctl");
        try {
            return Syscalls.check(Syscalls.ioctl(Libc.scratch().captureState, number, request, argument), "ioctl", name);
        } finally {
            fd.release();
        }
    }

    /** ioctl(fd, request, value) with a plain value as the argument (an int or an unsigned long). */
    public static int call(Fd fd, long request, long value, String name) throws LinuxException {
        int number = fd.acquire("ioctl");
        try {
            return Syscalls.check(Syscalls.ioctl(Libc.scratch().captureState, number, request, value), "ioctl", name);
        } finally {
            fd.release();
        }
    }
}
