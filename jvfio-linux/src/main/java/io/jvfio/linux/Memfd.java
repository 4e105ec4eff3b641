package io.jvfio.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Anonymous memory files (memfd_create), the usual backing of shared guest memory and regions. */
public final class Memfd {
    private Memfd() {}

    /**
     * A close-on-exec memfd of {@code size} bytes (zero-filled) that allows sealing. {@code name} only
     * labels it in /proc (as "memfd:name"); the kernel limits it to 249 bytes.
     */
    public static Fd create(String name, long size) throws LinuxException {
        return create(name, size, Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
    }

    /**
     * A close-on-exec memfd of {@code size} bytes in huge pages (MFD_HUGETLB, the default huge page
     * size): each huge page is physically contiguous. {@code size} must be a multiple of the huge page
     * size; ENOMEM (or EINVAL) when the system has none reserved ({@code vm.nr_hugepages}).
     */
    public static Fd createHugeTlb(String name, long size) throws LinuxException {
        return create(name, size, Libc.MFD_CLOEXEC | Libc.MFD_HUGETLB);
    }

    private static Fd create(String name, long size, int flags) throws LinuxException {
        if (size < 0) throw new IllegalArgumentException("negative size: " + size);
        int number;
        try (Arena arena = Arena.ofConfined()) {
            number = Syscalls.check(Syscalls.memfdCreate(Libc.scratch().captureState, arena.allocateFrom(name), flags),
                    "memfd_create", name);
        }
        Fd fd = Fd.adopt(number);
        try {
            Linux.ftruncate(fd, size);
            return fd;
        } catch (LinuxException e) {
            fd.close();
            throw e;
        }
    }
}
