package io.jvfio.linux;

/**
 * Linux errno values (x86-64 numbering, as carried in vfio-user replies) with their symbolic names
 * and descriptions. Pure Java: protocol code uses these numbers without touching native code.
 */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int ENOEXEC = 8;
    public static final int EBADF = 9;
    public static final int ECHILD = 10;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int ENOTBLK = 15;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EXDEV = 18;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOTTY = 25;
    public static final int ETXTBSY = 26;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int ESPIPE = 29;
    public static final int EROFS = 30;
    public static final int EMLINK = 31;
    public static final int EPIPE = 32;
    public static final int EDOM = 33;
    public static final int ERANGE = 34;
    public static final int EDEADLK = 35;
    public static final int ENAMETOOLONG = 36;
    public static final int ENOLCK = 37;
    public static final int ENOSYS = 38;
    public static final int ENOTEMPTY = 39;
    public static final int ELOOP = 40;
    public static final int ENOMSG = 42;
    public static final int EIDRM = 43;
    public static final int ENOSTR = 60;
    public static final int ENODATA = 61;
    public static final int ETIME = 62;
    public static final int ENOSR = 63;
    public static final int ENOLINK = 67;
    public static final int EPROTO = 71;
    public static final int EBADMSG = 74;
    public static final int EOVERFLOW = 75;
    public static final int EILSEQ = 84;
    public static final int EUSERS = 87;
    public static final int ENOTSOCK = 88;
    public static final int EDESTADDRREQ = 89;
    public static final int EMSGSIZE = 90;
    public static final int EPROTOTYPE = 91;
    public static final int ENOPROTOOPT = 92;
    public static final int EPROTONOSUPPORT = 93;
    public static final int ESOCKTNOSUPPORT = 94;
    public static final int EOPNOTSUPP = 95;
    public static final int EPFNOSUPPORT = 96;
    public static final int EAFNOSUPPORT = 97;
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENETDOWN = 100;
    public static final int ENETUNREACH = 101;
    public static final int ENETRESET = 102;
    public static final int ECONNABORTED = 103;
    public static final int ECONNRESET = 104;
    public static final int ENOBUFS = 105;
    public static final int EISCONN = 106;
    public static final int ENOTCONN = 107;
    public static final int ESHUTDOWN = 108;
    public static final int ETOOMANYREFS = 109;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;
    public static final int EHOSTDOWN = 112;
    public static final int EHOSTUNREACH = 113;
    public static final int EALREADY = 114;
    public static final int EINPROGRESS = 115;
    public static final int ESTALE = 116;
    public static final int EDQUOT = 122;
    public static final int ECANCELED = 125;
    public static final int EOWNERDEAD = 130;
    public static final int ENOTRECOVERABLE = 131;

    /** EWOULDBLOCK is EAGAIN on Linux. */
    public static final int EWOULDBLOCK = EAGAIN;
    /** ENOTSUP is EOPNOTSUPP on Linux. */
    public static final int ENOTSUP = EOPNOTSUPP;

    /** The symbolic name, e.g. {@code ENOENT}; {@code errno N} for numbers without one here. */
    public static String name(int errno) {
        String[] entry = entry(errno);
        return entry == null ? "errno " + errno : entry[0];
    }

    /** The C library's description, e.g. {@code No such file or directory}. */
    public static String describe(int errno) {
        String[] entry = entry(errno);
        return entry == null ? "Unknown error " + errno : entry[1];
    }

    /** {@code ENOENT (No such file or directory)}. */
    public static String format(int errno) {
        return name(errno) + " (" + describe(errno) + ")";
    }

    private static String[] entry(int errno) {
        return switch (errno) {
            case EPERM -> new String[] {"EPERM", "Operation not permitted"};
            case ENOENT -> new String[] {"ENOENT", "No such file or directory"};
            case ESRCH -> new String[] {"ESRCH", "No such process"};
            case EINTR -> new String[] {"EINTR", "Interrupted system call"};
            case EIO -> new String[] {"EIO", "Input/output error"};
            case ENXIO -> new String[] {"ENXIO", "No such device or address"};
            case E2BIG -> new String[] {"E2BIG", "Argument list too long"};
            case ENOEXEC -> new String[] {"ENOEXEC", "Exec format error"};
            case EBADF -> new String[] {"EBADF", "Bad file descriptor"};
            case ECHILD -> new String[] {"ECHILD", "No child processes"};
            case EAGAIN -> new String[] {"EAGAIN", "Resource temporarily unavailable"};
            case ENOMEM -> new String[] {"ENOMEM", "Cannot allocate memory"};
            case EACCES -> new String[] {"EACCES", "Permission denied"};
            case EFAULT -> new String[] {"EFAULT", "Bad address"};
            case ENOTBLK -> new String[] {"ENOTBLK", "Block device required"};
            case EBUSY -> new String[] {"EBUSY", "Device or resource busy"};
            case EEXIST -> new String[] {"EEXIST", "File exists"};
            case EXDEV -> new String[] {"EXDEV", "Invalid cross-device link"};
            case ENODEV -> new String[] {"ENODEV", "No such device"};
            case ENOTDIR -> new String[] {"ENOTDIR", "Not a directory"};
            case EISDIR -> new String[] {"EISDIR", "Is a directory"};
            case EINVAL -> new String[] {"EINVAL", "Invalid argument"};
            case ENFILE -> new String[] {"ENFILE", "Too many open files in system"};
            case EMFILE -> new String[] {"EMFILE", "Too many open files"};
            case ENOTTY -> new String[] {"ENOTTY", "Inappropriate ioctl for device"};
            case ETXTBSY -> new String[] {"ETXTBSY", "Text file busy"};
            case EFBIG -> new String[] {"EFBIG", "File too large"};
            case ENOSPC -> new String[] {"ENOSPC", "No space left on device"};
            case ESPIPE -> new String[] {"ESPIPE", "Illegal seek"};
            case EROFS -> new String[] {"EROFS", "Read-only file system"};
            case EMLINK -> new String[] {"EMLINK", "Too many links"};
            case EPIPE -> new String[] {"EPIPE", "Broken pipe"};
            case EDOM -> new String[] {"EDOM", "Numerical argument out of domain"};
            case ERANGE -> new String[] {"ERANGE", "Numerical result out of range"};
            case EDEADLK -> new String[] {"EDEADLK", "Resource deadlock avoided"};
            case ENAMETOOLONG -> new String[] {"ENAMETOOLONG", "File name too long"};
            case ENOLCK -> new String[] {"ENOLCK", "No locks available"};
            case ENOSYS -> new String[] {"ENOSYS", "Function not implemented"};
            case ENOTEMPTY -> new String[] {"ENOTEMPTY", "Directory not empty"};
            case ELOOP -> new String[] {"ELOOP", "Too many levels of symbolic links"};
            case ENOMSG -> new String[] {"ENOMSG", "No message of desired type"};
            case EIDRM -> new String[] {"EIDRM", "Identifier removed"};
            case ENOSTR -> new String[] {"ENOSTR", "Device not a stream"};
            case ENODATA -> new String[] {"ENODATA", "No data available"};
            case ETIME -> new String[] {"ETIME", "Timer expired"};
            case ENOSR -> new String[] {"ENOSR", "Out of streams resources"};
            case ENOLINK -> new String[] {"ENOLINK", "Link has been severed"};
            case EPROTO -> new String[] {"EPROTO", "Protocol error"};
            case EBADMSG -> new String[] {"EBADMSG", "Bad message"};
            case EOVERFLOW -> new String[] {"EOVERFLOW", "Value too large for defined data type"};
            case EILSEQ -> new String[] {"EILSEQ", "Invalid or incomplete multibyte or wide character"};
            case EUSERS -> new String[] {"EUSERS", "Too many users"};
            case ENOTSOCK -> new String[] {"ENOTSOCK", "Socket operation on non-socket"};
            case EDESTADDRREQ -> new String[] {"EDESTADDRREQ", "Destination address required"};
            case EMSGSIZE -> new String[] {"EMSGSIZE", "Message too long"};
            case EPROTOTYPE -> new String[] {"EPROTOTYPE", "Protocol wrong type for socket"};
            case ENOPROTOOPT -> new String[] {"ENOPROTOOPT", "Protocol not available"};
            case EPROTONOSUPPORT -> new String[] {"EPROTONOSUPPORT", "Protocol not supported"};
            case ESOCKTNOSUPPORT -> new String[] {"ESOCKTNOSUPPORT", "Socket type not supported"};
            case EOPNOTSUPP -> new String[] {"EOPNOTSUPP", "Operation not supported"};
            case EPFNOSUPPORT -> new String[] {"EPFNOSUPPORT", "Protocol family not supported"};
            case EAFNOSUPPORT -> new String[] {"EAFNOSUPPORT", "Address family not supported by protocol"};
            case EADDRINUSE -> new String[] {"EADDRINUSE", "Address already in use"};
            case EADDRNOTAVAIL -> new String[] {"EADDRNOTAVAIL", "Cannot assign requested address"};
            case ENETDOWN -> new String[] {"ENETDOWN", "Network is down"};
            case ENETUNREACH -> new String[] {"ENETUNREACH", "Network is unreachable"};
            case ENETRESET -> new String[] {"ENETRESET", "Network dropped connection on reset"};
            case ECONNABORTED -> new String[] {"ECONNABORTED", "Software caused connection abort"};
            case ECONNRESET -> new String[] {"ECONNRESET", "Connection reset by peer"};
            case ENOBUFS -> new String[] {"ENOBUFS", "No buffer space available"};
            case EISCONN -> new String[] {"EISCONN", "Transport endpoint is already connected"};
            case ENOTCONN -> new String[] {"ENOTCONN", "Transport endpoint is not connected"};
            case ESHUTDOWN -> new String[] {"ESHUTDOWN", "Cannot send after transport endpoint shutdown"};
            case ETOOMANYREFS -> new String[] {"ETOOMANYREFS", "Too many references: cannot splice"};
            case ETIMEDOUT -> new String[] {"ETIMEDOUT", "Connection timed out"};
            case ECONNREFUSED -> new String[] {"ECONNREFUSED", "Connection refused"};
            case EHOSTDOWN -> new String[] {"EHOSTDOWN", "Host is down"};
            case EHOSTUNREACH -> new String[] {"EHOSTUNREACH", "No route to host"};
            case EALREADY -> new String[] {"EALREADY", "Operation already in progress"};
            case EINPROGRESS -> new String[] {"EINPROGRESS", "Operation now in progress"};
            case ESTALE -> new String[] {"ESTALE", "Stale file handle"};
            case EDQUOT -> new String[] {"EDQUOT", "Disk quota exceeded"};
            case ECANCELED -> new String[] {"ECANCELED", "Operation canceled"};
            case EOWNERDEAD -> new String[] {"EOWNERDEAD", "Owner died"};
            case ENOTRECOVERABLE -> new String[] {"ENOTRECOVERABLE", "State not recoverable"};
            default -> null;
        };
    }
}
