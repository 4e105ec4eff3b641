package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * What an inherited socket is (one a service manager passed, say): its address family and type,
 * whether it listens, and whether it has a peer.
 *
 * @param domain    the address family (SO_DOMAIN), e.g. {@link #AF_UNIX}
 * @param type      the socket type (SO_TYPE), e.g. {@link #SOCK_STREAM}
 * @param listening listen(2) was called on it (SO_ACCEPTCONN)
 * @param connected it has a peer (getpeername(2) succeeds)
 */
public record SocketInfo(int domain, int type, boolean listening, boolean connected) {
    public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_VSOCK = 40;
    public static final int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_SEQPACKET = 5;

    /** Asks the kernel about {@code fd}; ENOTSOCK if it is no socket. The fd stays the caller's. */
    public static SocketInfo of(Fd fd) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        int number = fd.acquire("getsockopt");
        try {
            int domain = intOption(scratch, number, Libc.SO_DOMAIN, "SO_DOMAIN");
            int type = intOption(scratch, number, Libc.SO_TYPE, "SO_TYPE");
            boolean listening = intOption(scratch, number, Libc.SO_ACCEPTCONN, "SO_ACCEPTCONN") != 0;
            MemorySegment address = scratch.bytes.asSlice(16, 128);
            MemorySegment length = scratch.bytes.asSlice(8, 4);
            length.set(JAVA_INT, 0, (int) address.byteSize());
            int peer = Syscalls.getpeername(scratch.captureState, number, address, length);
            if (peer < 0 && peer != -Errno.ENOTCONN) throw new LinuxException("getpeername", fd.toString(), -peer);
            return new SocketInfo(domain, type, listening, peer == 0);
        } finally {
            fd.release();
        }
    }

    private static int intOption(Libc.Scratch scratch, int fd, int option, String name) throws LinuxException {
        MemorySegment value = scratch.bytes.asSlice(0, 4);
        MemorySegment length = scratch.bytes.asSlice(8, 4);
        length.set(JAVA_INT, 0, 4);
        int result = Syscalls.getsockopt(scratch.captureState, fd, Libc.SOL_SOCKET, option, value, length);
        if (result == -Errno.ENOTSOCK) {
            throw LinuxException.explained("getsockopt", "fd " + fd + " is not a socket", Errno.ENOTSOCK);
        }
        Syscalls.check(result, "getsockopt", name + " of fd " + fd);
        return value.get(JAVA_INT, 0);
    }

    public boolean isUnixStream() {
        return domain == AF_UNIX && type == SOCK_STREAM;
    }

    /** The family and type as C names them, e.g. "AF_UNIX SOCK_STREAM". */
    public String kind() {
        String family = switch (domain) {
            case AF_UNIX -> "AF_UNIX";
            case AF_INET -> "AF_INET";
            case AF_INET6 -> "AF_INET6";
            case AF_VSOCK -> "AF_VSOCK";
            default -> "address family " + domain;
        };
        String kind = switch (type) {
            case SOCK_STREAM -> "SOCK_STREAM";
            case SOCK_DGRAM -> "SOCK_DGRAM";
            case SOCK_SEQPACKET -> "SOCK_SEQPACKET";
            default -> "socket type " + type;
        };
        return family + " " + kind;
    }
}
