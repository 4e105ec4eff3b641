package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What the module's libc calls ({@link Syscalls}) need besides the calls: constants and structure
 * layouts (those of Linux on x86-64), the errno capture state, per-thread scratch memory and C paths.
 */
final class Libc {
    private Libc() {}

    // ---- constants (x86-64 Linux, glibc) ----
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int SO_PEERCRED = 17;
    /** Linux 4.13: the peer's supplementary groups at connect time, an array of gid_t. */
    static final int SO_PEERGROUPS = 59;
    static final int SO_RCVTIMEO = 20;
    static final int SO_ACCEPTCONN = 30;
    static final int SO_TYPE = 3;
    static final int SO_DOMAIN = 39;
    static final int SHUT_WR = 1;
    static final int SHUT_RDWR = 2;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_DONTWAIT = 0x40;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    /** The kernel's SCM_MAX_FD: the most fds one SCM_RIGHTS message may carry. */
    static final int SCM_MAX_FD = 253;

    static final int F_GETFL = 3;
    static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    static final int FALLOC_FL_KEEP_SIZE = 0x1, FALLOC_FL_PUNCH_HOLE = 0x2;
    /** st_blocks counts 512-byte units whatever the file system's block size. */
    static final int ST_BLOCK_UNIT = 512;
    static final int F_DUPFD_CLOEXEC = 1030;

    static final int MFD_CLOEXEC = 0x1;
    static final int MFD_ALLOW_SEALING = 0x2;
    static final int MFD_HUGETLB = 0x4;
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x1;

    static final int EFD_CLOEXEC = 0x80000;
    static final int EPOLL_CLOEXEC = 0x80000;
    static final int EPOLL_CTL_ADD = 1;
    static final int EPOLL_CTL_DEL = 2;
    static final int EPOLL_CTL_MOD = 3;

    static final int POLLIN = 0x1;
    static final int POLLOUT = 0x4;

    static final int S_IFMT = 0xF000;
    static final int S_IFREG = 0x8000;
    static final int S_IFSOCK = 0xC000;
    private static final int SC_PAGESIZE = 30;

    // ---- structure layouts (x86-64) ----
    static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    static final long IOVEC_BASE = 0, IOVEC_LEN = 8;

    static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("msg_name"),
            JAVA_INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("msg_iov"),
            JAVA_LONG.withName("msg_iovlen"),
            ADDRESS.withName("msg_control"),
            JAVA_LONG.withName("msg_controllen"),
            JAVA_INT.withName("msg_flags"),
            MemoryLayout.paddingLayout(4));
    static final long MSG_IOV = offset(MSGHDR, "msg_iov");
    static final long MSG_IOVLEN = offset(MSGHDR, "msg_iovlen");
    static final long MSG_CONTROL = offset(MSGHDR, "msg_control");
    static final long MSG_CONTROLLEN = offset(MSGHDR, "msg_controllen");
    static final long MSG_FLAGS = offset(MSGHDR, "msg_flags");

    /** struct cmsghdr: size_t cmsg_len; int cmsg_level; int cmsg_type; then the data, 8-aligned. */
    static final StructLayout CMSGHDR = MemoryLayout.structLayout(
            JAVA_LONG.withName("cmsg_len"), JAVA_INT.withName("cmsg_level"), JAVA_INT.withName("cmsg_type"));
    static final long CMSG_LEN_FIELD = offset(CMSGHDR, "cmsg_len");
    static final long CMSG_LEVEL = offset(CMSGHDR, "cmsg_level");
    static final long CMSG_TYPE = offset(CMSGHDR, "cmsg_type");
    static final long CMSG_HEADER_SIZE = CMSGHDR.byteSize();

    static long cmsgAlign(long length) {
        return (length + 7) & ~7L;
    }

    /** CMSG_LEN: header plus payload, unpadded. */
    static long cmsgLen(long payload) {
        return CMSG_HEADER_SIZE + payload;
    }

    /** CMSG_SPACE: header plus padded payload, what one control message occupies. */
    static long cmsgSpace(long payload) {
        return CMSG_HEADER_SIZE + cmsgAlign(payload);
    }

    static final StructLayout UCRED = MemoryLayout.structLayout(
            JAVA_INT.withName("pid"), JAVA_INT.withName("uid"), JAVA_INT.withName("gid"));
    static final long UCRED_PID = offset(UCRED, "pid");
    static final long UCRED_UID = offset(UCRED, "uid");
    static final long UCRED_GID = offset(UCRED, "gid");

    /** struct passwd of glibc on x86-64: name, passwd, uid, gid, gecos, dir, shell. */
    static final StructLayout PASSWD = MemoryLayout.structLayout(
            ADDRESS.withName("pw_name"), ADDRESS.withName("pw_passwd"), JAVA_INT.withName("pw_uid"),
            JAVA_INT.withName("pw_gid"), ADDRESS.withName("pw_gecos"), ADDRESS.withName("pw_dir"), ADDRESS.withName("pw_shell"));
    static final long PW_UID = offset(PASSWD, "pw_uid");
    static final long PW_GID = offset(PASSWD, "pw_gid");

    /** struct group of glibc on x86-64: name, passwd, gid, members. */
    static final StructLayout GROUP = MemoryLayout.structLayout(
            ADDRESS.withName("gr_name"), ADDRESS.withName("gr_passwd"), JAVA_INT.withName("gr_gid"),
            MemoryLayout.paddingLayout(4), ADDRESS.withName("gr_mem"));
    static final long GR_GID = offset(GROUP, "gr_gid");

    /** struct sockaddr_un: sa_family_t sun_family; char sun_path[108]. */
    static final int SUN_PATH_CAPACITY = 108;
    static final StructLayout SOCKADDR_UN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sun_family"),
            MemoryLayout.sequenceLayout(SUN_PATH_CAPACITY, JAVA_BYTE).withName("sun_path"));
    static final long SUN_PATH = offset(SOCKADDR_UN, "sun_path");

    /** struct stat of x86-64 (144 bytes); only the fields used here are named. */
    static final StructLayout STAT = MemoryLayout.structLayout(
            JAVA_LONG.withName("st_dev"),
            JAVA_LONG.withName("st_ino"),
            JAVA_LONG.withName("st_nlink"),
            JAVA_INT.withName("st_mode"),
            JAVA_INT.withName("st_uid"),
            JAVA_INT.withName("st_gid"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("st_rdev"),
            JAVA_LONG.withName("st_size"),
            JAVA_LONG.withName("st_blksize"),
            JAVA_LONG.withName("st_blocks"),
            MemoryLayout.paddingLayout(3 * 16 + 3 * 8));
    static final long ST_MODE = offset(STAT, "st_mode");
    static final long ST_SIZE = offset(STAT, "st_size");
    static final long ST_BLOCKS = offset(STAT, "st_blocks");

    /** struct pollfd: int fd; short events; short revents. */
    static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));
    static final long POLLFD_FD = offset(POLLFD, "fd");
    static final long POLLFD_EVENTS = offset(POLLFD, "events");
    static final long POLLFD_REVENTS = offset(POLLFD, "revents");

    /** struct epoll_event is packed on x86-64: uint32 events, then the 64-bit data at offset 4. */
    static final StructLayout EPOLL_EVENT = MemoryLayout.structLayout(
            JAVA_INT.withName("events"), JAVA_LONG_UNALIGNED.withName("data"));
    static final long EPOLL_EVENT_EVENTS = offset(EPOLL_EVENT, "events");
    static final long EPOLL_EVENT_DATA = offset(EPOLL_EVENT, "data");

    private static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    // ---- errno capture ----
    static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    static int errno(MemorySegment captureState) {
        return (int) ERRNO.get(captureState, 0L);
    }

    /** A capture segment in {@code arena}, for objects that keep their own (hot paths). */
    static MemorySegment allocateCaptureState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /**
     * Per-thread native scratch: the errno capture segment plus a few bytes for small in/out
     * arguments, so leaf calls allocate nothing. Only leaf code (that calls no other user of the
     * scratch while holding it) may use it.
     */
    static final class Scratch {
        static final long BYTES = 256;
        final MemorySegment captureState;
        final MemorySegment bytes;

        private Scratch() {
            // Automatic arena: the memory goes when the thread (and so its Scratch) becomes unreachable.
            Arena arena = Arena.ofAuto();
            captureState = arena.allocate(CAPTURE_LAYOUT);
            bytes = arena.allocate(BYTES, 8);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static Scratch scratch() {
        return SCRATCH.get();
    }

    // ---- paths ----
    /** The file system's encoding, as the JDK's own file APIs use it, so both name the same file. */
    private static final Charset PATH_CHARSET = Optional.ofNullable(System.getProperty("sun.jnu.encoding"))
            .filter(Charset::isSupported).map(Charset::forName).orElse(StandardCharsets.UTF_8);

    static byte[] pathBytes(Path path) {
        return path.toString().getBytes(PATH_CHARSET);
    }

    /** A NUL-terminated copy of {@code path} in {@code arena}; EINVAL if the path holds a NUL. */
    static MemorySegment cPath(Arena arena, String call, Path path) throws LinuxException {
        byte[] bytes = pathBytes(path);
        for (byte b : bytes) {
            if (b == 0) throw new LinuxException(call, path.toString(), Errno.EINVAL);
        }
        MemorySegment segment = arena.allocate(bytes.length + 1L);
        MemorySegment.copy(bytes, 0, segment, JAVA_BYTE, 0, bytes.length);
        return segment;
    }

    /** A filled sockaddr_un for {@code path}; ENAMETOOLONG if it does not fit in sun_path with its NUL. */
    static MemorySegment sockaddrUn(Arena arena, String call, Path path) throws LinuxException {
        byte[] bytes = pathBytes(path);
        if (bytes.length > SUN_PATH_CAPACITY - 1) {
            throw new LinuxException(call, path.toString(), Errno.ENAMETOOLONG);
        }
        for (byte b : bytes) {
            if (b == 0) throw new LinuxException(call, path.toString(), Errno.EINVAL);
        }
        MemorySegment address = arena.allocate(SOCKADDR_UN); // zeroed, so sun_path ends with NUL
        address.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, address, JAVA_BYTE, SUN_PATH, bytes.length);
        return address;
    }

    static long pageSize() {
        long size = Syscalls.sysconf(scratch().captureState, SC_PAGESIZE);
        return size > 0 ? size : 4096;
    }
}
